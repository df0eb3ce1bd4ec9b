"""Retention on the catalog: forgetting snapshot rows and collecting the spans they alone held.

Finding dead spans costs what was freed, not the size of the store: when snapshots between
two remaining neighbours ``prev`` and ``next`` are forgotten, a span is dead exactly when it
was born after ``prev`` and died no later than ``next`` (an indexed range on ``born``).
Spans still current (``died IS NULL``) are kept even when the newest snapshot is forgotten:
they are what the next snapshot compares the site with. Such a forgotten newest snapshot
therefore stays in the log (meta key ``uncollected``) until a newer snapshot exists.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from snapexport.catalog import meta
from snapexport.catalog import snapshots as snaps
from snapexport.catalog.meta import MetaKey


@dataclass(slots=True)
class SpansCollected:
    """What one collection of spans deleted."""

    record_spans: int = 0
    record_texts: int = 0
    file_spans: int = 0


def forget_rows(conn: sqlite3.Connection, seqs: Iterable[int]) -> list[int]:
    """Delete these snapshot rows and log them for collection; the caller owns the
    transaction. Returns the forgotten sequence numbers, sorted."""
    ordered = sorted(set(seqs))
    if not ordered:
        return []
    for table in ("snapshot_missing", "snapshot_orders", "snapshots"):
        conn.executemany(f"DELETE FROM {table} WHERE seq = ?", [(s,) for s in ordered])
    _set_forgotten_log(conn, _forgotten_log(conn) | set(ordered))
    return ordered


def _forgotten_log(conn: sqlite3.Connection) -> set[int]:
    """Forgotten sequence numbers whose spans are not yet collected (survives a crash)."""
    value = meta.read(conn, MetaKey.UNCOLLECTED)
    return {int(x) for x in value.split(",") if x} if value else set()


def _set_forgotten_log(conn: sqlite3.Connection, seqs: set[int]) -> None:
    meta.write(conn, MetaKey.UNCOLLECTED, ",".join(str(s) for s in sorted(seqs)))


def _gaps(live: list[int], forgotten: Iterable[int]) -> set[tuple[int, int | None]]:
    out = set()
    for f in forgotten:
        i = bisect.bisect_left(live, f)
        prev = live[i - 1] if i > 0 else 0
        nxt = live[i] if i < len(live) else None
        out.add((prev, nxt))
    return out


def collect_spans(conn: sqlite3.Connection) -> SpansCollected:
    """Delete spans no snapshot lies inside, and record texts only they used; the caller
    owns the transaction. Forgotten snapshots are read from the catalog's own log."""
    done = SpansCollected()
    forgotten = _forgotten_log(conn)
    if not forgotten:
        return done
    live = snaps.live_seqs(conn)
    newest = live[-1] if live else 0
    hashes: set[bytes] = set()
    for prev, nxt in sorted(_gaps(live, forgotten), key=lambda g: g[0]):
        where = "born > ? AND died IS NOT NULL"
        params: tuple[int, ...] = (prev,)
        if nxt is not None:
            where += " AND born < ? AND died <= ?"
            params = (prev, nxt, nxt)
        deleted = conn.execute(f"DELETE FROM record_spans WHERE {where} RETURNING hash", params)
        for (h,) in deleted.fetchall():
            hashes.add(h)
            done.record_spans += 1
        done.file_spans += conn.execute(f"DELETE FROM file_spans WHERE {where}", params).rowcount
    if hashes:
        # one scan of record_spans (it has no index on hash: schema 3), not one per text
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS freed_texts (hash BLOB PRIMARY KEY)")
        conn.execute("DELETE FROM temp.freed_texts")
        conn.executemany("INSERT OR IGNORE INTO temp.freed_texts VALUES (?)",
                         [(h,) for h in hashes])  # fmt: skip
        done.record_texts += conn.execute(
            "DELETE FROM record_data WHERE hash IN (SELECT hash FROM temp.freed_texts)"
            " AND hash NOT IN (SELECT hash FROM record_spans)"
        ).rowcount
        conn.execute("DELETE FROM temp.freed_texts")
    # Forgotten snapshots newer than every kept one may hold current spans that die later.
    _set_forgotten_log(conn, {f for f in forgotten if f > newest})
    return done


def live_blobs(conn: sqlite3.Connection) -> Iterator[bytes]:
    """Every blob a file span names (whatever snapshot holds it), each once, streamed."""
    return (bytes(r[0]) for r in conn.execute("SELECT DISTINCT blob FROM file_spans"))


class Retention:
    """Forgetting and collecting on one open catalog. The methods run inside the caller's
    ``Catalog.transaction()``: a prune commits each step on its own, a dry run rolls all
    of them back together."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def forget(self, seqs: Iterable[int]) -> list[int]:
        return forget_rows(self._conn, seqs)

    def collect_spans(self) -> SpansCollected:
        return collect_spans(self._conn)

    def live_blobs(self) -> Iterator[bytes]:
        return live_blobs(self._conn)
