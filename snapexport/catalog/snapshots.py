"""Snapshot rows of the catalog: listing, resolving what users type, allocating sequence numbers."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from snapexport.catalog import meta as meta_table
from snapexport.catalog import records
from snapexport.catalog.link import Transactional
from snapexport.catalog.meta import MetaKey
from snapexport.catalog.modelids import model_name
from snapexport.catalog.staging import apply_staging
from snapexport.errors import SnapshotNotFoundError
from snapexport.values import SnapshotMeta

_COLUMNS = "seq, id, time, host, profile, tags, complete, info, stats"
_LATEST = re.compile(r"^latest(?:~(\d+))?$")
MIN_PREFIX = 4


def _meta(row: tuple) -> SnapshotMeta:
    seq, sid, time, host, profile, tags, complete, info, stats = row
    return SnapshotMeta(
        id=sid,
        seq=seq,
        time=datetime.fromisoformat(time),
        host=host,
        profile=profile,
        tags=tuple(json.loads(tags)),
        complete=bool(complete),
        info=json.loads(info),
        stats=json.loads(stats),
    )


def list_snapshots(conn: sqlite3.Connection, *, tag: str | None = None) -> list[SnapshotMeta]:
    """Every snapshot, oldest commit first (optionally only those carrying ``tag``)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM snapshots ORDER BY seq").fetchall()
    metas = [_meta(r) for r in rows]
    if tag is not None:
        metas = [m for m in metas if tag in m.tags]
    return metas


def get_by_seq(conn: sqlite3.Connection, seq: int) -> SnapshotMeta:
    row = conn.execute(f"SELECT {_COLUMNS} FROM snapshots WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        raise SnapshotNotFoundError(f"no snapshot with sequence number {seq}")
    return _meta(row)


def resolve(
    conn: sqlite3.Connection, spec: str = "latest", *, tag: str | None = None
) -> SnapshotMeta:
    """Find the snapshot a user means.

    ``spec`` is ``latest``, ``latest~N`` (N snapshots before the latest, by time), or a unique
    prefix of a snapshot id (at least four hex digits). With ``tag``, ``latest`` means the
    newest snapshot carrying that tag.
    """
    spec = spec.strip()
    m = _LATEST.match(spec)
    if m:
        back = int(m.group(1) or 0)
        candidates = sorted(list_snapshots(conn, tag=tag), key=lambda s: (s.time, s.seq))
        if not candidates:
            where = f" with tag {tag!r}" if tag else ""
            raise SnapshotNotFoundError(f"the store has no snapshot{where}")
        if back >= len(candidates):
            raise SnapshotNotFoundError(f"{spec}: the store has only {len(candidates)} snapshot(s)")
        return candidates[-1 - back]
    if not re.fullmatch(r"[0-9a-fA-F]+", spec):
        raise SnapshotNotFoundError(
            f"{spec!r} is not a snapshot id, an id prefix, latest or latest~N"
        )
    if len(spec) < MIN_PREFIX:
        raise SnapshotNotFoundError(
            f"snapshot id prefix {spec!r} is too short (at least {MIN_PREFIX})"
        )
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM snapshots WHERE id >= ? AND id < ? ORDER BY seq",
        (spec.lower(), spec.lower() + "g"),
    ).fetchall()
    if not rows:
        raise SnapshotNotFoundError(f"no snapshot matches {spec!r}")
    if len(rows) > 1:
        ids = ", ".join(r[1][:12] for r in rows[:5])
        raise SnapshotNotFoundError(f"snapshot id prefix {spec!r} is ambiguous: {ids}")
    meta = _meta(rows[0])
    if tag is not None and tag not in meta.tags:
        raise SnapshotNotFoundError(f"snapshot {meta.short_id} does not carry tag {tag!r}")
    return meta


def next_seq(conn: sqlite3.Connection) -> int:
    """The sequence number the next committed snapshot gets (never reuses a forgotten one)."""
    value = meta_table.read(conn, MetaKey.NEXT_SEQ)
    stored = int(value) if value else 1
    highest = conn.execute(
        "SELECT max(m) FROM (SELECT max(seq) AS m FROM snapshots"
        " UNION ALL SELECT max(born) FROM record_spans"
        " UNION ALL SELECT max(died) FROM record_spans WHERE died IS NOT NULL"
        " UNION ALL SELECT max(born) FROM file_spans"
        " UNION ALL SELECT max(died) FROM file_spans WHERE died IS NOT NULL)"
    ).fetchone()[0]
    return max(stored, (highest or 0) + 1)


def insert_snapshot(conn: sqlite3.Connection, meta: SnapshotMeta) -> None:
    """Insert the snapshot row and advance ``next_seq``; the caller owns the transaction."""
    conn.execute(
        f"INSERT INTO snapshots ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            meta.seq,
            meta.id,
            meta.time.isoformat(),
            meta.host,
            meta.profile,
            json.dumps(list(meta.tags)),
            int(meta.complete),
            json.dumps(meta.info, sort_keys=True),
            json.dumps(meta.stats, sort_keys=True),
        ),
    )
    meta_table.write(conn, MetaKey.NEXT_SEQ, str(meta.seq + 1))


def live_seqs(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT seq FROM snapshots ORDER BY seq")]


def newest(conn: sqlite3.Connection) -> SnapshotMeta | None:
    """The snapshot committed last (highest sequence number), if any."""
    row = conn.execute("SELECT max(seq) FROM snapshots").fetchone()
    return get_by_seq(conn, row[0]) if row and row[0] is not None else None


def any_snapshot(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM snapshots LIMIT 1").fetchone() is not None


@dataclass(frozen=True, slots=True)
class CommitTallies:
    """What applying a staged snapshot did, read inside its commit transaction."""

    seq: int
    changes: dict[str, int]  # rows added, replaced, removed (staging.apply_staging)
    totals: dict[str, int]  # records, files and logical bytes of the new snapshot
    documents: int  # records of the counted model in the new snapshot
    removed: dict[str, int]  # per model: records gone from the site (not replaced)


def _removed_per_model(conn: sqlite3.Connection, seq: int) -> dict[str, int]:
    return dict(
        conn.execute(
            f"SELECT {model_name('model')}, count(*) FROM record_spans WHERE died = ?"
            " AND NOT EXISTS (SELECT 1 FROM record_spans n WHERE n.model = record_spans.model"
            " AND n.pk = record_spans.pk AND n.born = ?) GROUP BY model",
            (seq, seq),
        ).fetchall()
    )


class Snapshots:
    """The snapshot rows of one open catalog: find, resolve, commit."""

    __slots__ = ("_catalog",)

    def __init__(self, catalog: Transactional) -> None:
        self._catalog = catalog

    def all(self, *, tag: str | None = None) -> list[SnapshotMeta]:
        """Every snapshot, oldest commit first (optionally only those carrying ``tag``)."""
        return list_snapshots(self._catalog.conn, tag=tag)

    def get(self, seq: int) -> SnapshotMeta:
        return get_by_seq(self._catalog.conn, seq)

    def resolve(self, spec: str = "latest", *, tag: str | None = None) -> SnapshotMeta:
        return resolve(self._catalog.conn, spec, tag=tag)

    def newest(self) -> SnapshotMeta | None:
        return newest(self._catalog.conn)

    def live_seqs(self) -> list[int]:
        return live_seqs(self._catalog.conn)

    def exist(self) -> bool:
        """Whether the catalog holds any snapshot."""
        return any_snapshot(self._catalog.conn)

    def commit(
        self,
        staged: Path,
        sections: Sequence[str],
        *,
        count_model: str,
        build: Callable[[CommitTallies], SnapshotMeta],
        in_commit: Callable[[], None] = lambda: None,
    ) -> SnapshotMeta:
        """Apply the sealed staging file ``staged`` as the next snapshot, in one transaction.

        ``build`` turns the tallies into the snapshot row; ``in_commit`` runs after the row
        is written and before the commit (a fault point for crash tests).
        """
        conn = self._catalog.conn
        conn.execute("ATTACH DATABASE ? AS stage", (str(staged),))
        try:
            with self._catalog.transaction():
                seq = next_seq(conn)
                changes = apply_staging(conn, seq, list(sections))
                records.store_explicit_orders(conn, seq)
                tallies = CommitTallies(
                    seq=seq,
                    changes=changes,
                    totals=records.counts(conn, seq),
                    documents=records.count_model(conn, seq, count_model),
                    removed=_removed_per_model(conn, seq),
                )
                snapshot = build(tallies)
                insert_snapshot(conn, snapshot)
                in_commit()
        finally:
            conn.execute("DETACH DATABASE stage")
        return snapshot
