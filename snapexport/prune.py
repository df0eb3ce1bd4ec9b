"""Forgetting snapshots and freeing what no remaining snapshot uses.

``forget`` removes snapshot rows (by id or by a retention policy). ``prune`` then deletes the
spans that no remaining snapshot lies inside, the record texts and blobs only those spans
used, and hands the dead blobs to the store, which frees their chunks and deletes or
repacks packs.

Finding dead spans costs what was freed, not the size of the store: when snapshots between
two remaining neighbours ``prev`` and ``next`` are forgotten, a span is dead exactly when it
was born after ``prev`` and died no later than ``next`` (an indexed range on ``born``).
Spans still current (``died IS NULL``) are kept even when the newest snapshot is forgotten:
they are what the next snapshot compares the site with. Such a forgotten newest snapshot
therefore stays in the log until a newer snapshot exists: the current spans it held die
with a later snapshot and are collected then.

Crash safety: every step commits on its own (forget, span collection, the store's
collection, which writes new packs before it deletes old ones), so a run killed at any
moment leaves every kept snapshot whole and the next run finishes the job. Tests kill or
pause a real prune at ``CRASH_POINTS`` through ``snapexport.faults``
(``SNAPEXPORT_FAULT=prune:after-spans=kill``).
"""

from __future__ import annotations

import bisect
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from snapexport import faults
from snapexport.catalog import snapshots as snaps
from snapexport.errors import UsageError
from snapexport.faults import checkpoint
from snapexport.policy import Decision, Policy, apply_policy
from snapexport.values import SnapshotMeta


@dataclass(frozen=True, slots=True)
class ForgetPlan:
    """Which snapshots go and which stay (with the rule that kept each)."""

    decisions: tuple[Decision, ...]

    @property
    def remove(self) -> list[SnapshotMeta]:
        return [d.snapshot for d in self.decisions if not d.keep]

    @property
    def keep(self) -> list[Decision]:
        return [d for d in self.decisions if d.keep]


@dataclass(slots=True)
class PruneReport:
    """What a prune freed."""

    snapshots_removed: int = 0
    record_spans_deleted: int = 0
    record_texts_deleted: int = 0
    file_spans_deleted: int = 0
    blobs_dead: int = 0
    store: dict[str, Any] = field(default_factory=dict)


def plan_policy(
    conn: sqlite3.Connection,
    policy: Policy,
    *,
    tag: str | None = None,
    allow_empty: bool = False,
    tz: Any = None,
) -> ForgetPlan:
    """Apply ``policy`` to the snapshots (only those with ``tag``, when given)."""
    if policy.is_empty():
        raise UsageError("no policy given: name snapshots to forget or use --keep-* options")
    candidates = snaps.list_snapshots(conn, tag=tag)
    decisions = tuple(apply_policy(candidates, policy, tz=tz))
    if decisions and not any(d.keep for d in decisions) and not allow_empty:
        raise UsageError(
            f"the policy would remove all {len(decisions)} snapshot(s); add --allow-empty"
            " if that is what you want"
        )
    return ForgetPlan(decisions)


def plan_ids(conn: sqlite3.Connection, specs: Sequence[str]) -> ForgetPlan:
    """Forget exactly the snapshots named (ids or unique prefixes)."""
    chosen = {snaps.resolve(conn, s).seq for s in specs}
    decisions = tuple(
        Decision(m, () if m.seq in chosen else ("not named",))
        for m in sorted(snaps.list_snapshots(conn), key=lambda s: s.time, reverse=True)
    )
    return ForgetPlan(decisions)


LIVE_BLOBS_SQL = "SELECT DISTINCT blob FROM file_spans"

# Fault points (snapexport.faults; SNAPEXPORT_FAULT=prune:<point>=kill|pause:FILE):
# after-forget: snapshots forgotten, spans not collected; after-spans: spans collected, no
# store collection yet; after-repack-save: a repacked pack saved, not yet in the catalog;
# after-pack-delete: catalog switched, one old pack deleted, others left; after-gc: all done.
CRASH_POINTS = (
    "after-forget",
    "after-spans",
    "after-repack-save",
    "after-pack-delete",
    "after-gc",
)
_BACKEND_POINTS = {"save": "after-repack-save", "remove": "after-pack-delete"}


class _CheckpointedBackend:
    """Wraps the store's backend so fault points can be reached inside the store's GC."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def save(self, *args: Any, **kwargs: Any) -> Any:
        out = self._inner.save(*args, **kwargs)
        checkpoint("prune:after-repack-save")
        return out

    def remove(self, *args: Any, **kwargs: Any) -> Any:
        out = self._inner.remove(*args, **kwargs)
        checkpoint("prune:after-pack-delete")
        return out


def forget(conn: sqlite3.Connection, snapshots: Iterable[SnapshotMeta]) -> list[int]:
    """Delete the snapshot rows (one transaction). Returns the forgotten sequence numbers."""
    with _transaction(conn):
        return _forget_rows(conn, snapshots)


def collect_spans(conn: sqlite3.Connection, report: PruneReport) -> None:
    """Delete spans no snapshot lies inside, and record texts only they used.

    One transaction. Forgotten snapshots are read from the catalog's own log, so a prune
    killed after ``forget`` finishes the job on its next run.
    """
    with _transaction(conn):
        _collect_spans(conn, report)


def run_prune(
    store: Any,
    plan: ForgetPlan | None,
    *,
    collect: bool = True,
    dry_run: bool = False,
    max_unused: float = 0.10,
) -> PruneReport:
    """Forget what ``plan`` removes, then (with ``collect``) free what nothing uses.

    Each step commits on its own and is safe to interrupt: the forgotten snapshots are
    logged with their removal, spans are collected in one transaction, and the store's
    collection writes new packs before it deletes old ones. With ``dry_run`` every step
    runs inside one transaction that is rolled back, so the report is exact and nothing
    changes.
    """
    from snapexport.store import catalog_image, gc

    conn = store.catalog.conn
    report = PruneReport(snapshots_removed=len(plan.remove) if plan else 0)
    if dry_run:
        if store.write:
            store.flush()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if plan is not None:
                _forget_rows(conn, plan.remove)
            if collect:
                _collect_spans(conn, report)
                # A real run saves a new catalog image when it changed the snapshot
                # tables, and then frees the one before it (see below).
                replaced = catalog_image.current(conn).get("state") != catalog_image.state(conn)
                result = gc.collect_garbage(
                    store, LIVE_BLOBS_SQL, max_unused=max_unused, dry_run=True,
                    keep_image=not replaced,
                )  # fmt: skip
                report.store = dict(result.as_dict())
        finally:
            conn.execute("ROLLBACK")
        return report
    if plan is not None:
        forget(conn, plan.remove)
        checkpoint("prune:after-forget")
    if collect:
        collect_spans(conn, report)
        checkpoint("prune:after-spans")
        if faults.armed("prune:after-repack-save", "prune:after-pack-delete"):
            store.backend = _CheckpointedBackend(store.backend)
        result = store.collect_garbage(LIVE_BLOBS_SQL, max_unused=max_unused)
        report.store = dict(result.as_dict())
        # The store keeps its newest catalog image and saves a new one when the snapshot
        # tables changed, which this prune did: saved on close, the new image would leave
        # the one before it for the next prune to free. Save it now and collect again, so
        # that one prune frees everything its policy and max_unused allow.
        if store.publish_catalog() is not None:
            again = store.collect_garbage(LIVE_BLOBS_SQL, max_unused=max_unused)
            for key, value in again.as_dict().items():
                if key != "dry_run":
                    report.store[key] = int(report.store[key]) + int(value)
        checkpoint("prune:after-gc")
    return report


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


def _forget_rows(conn: sqlite3.Connection, snapshots: Iterable[SnapshotMeta]) -> list[int]:
    seqs = sorted({s.seq for s in snapshots})
    if not seqs:
        return []
    for table in ("snapshot_missing", "snapshot_orders", "snapshots"):
        conn.executemany(f"DELETE FROM {table} WHERE seq = ?", [(s,) for s in seqs])
    _set_forgotten_log(conn, _forgotten_log(conn) | set(seqs))
    return seqs


def _forgotten_log(conn: sqlite3.Connection) -> set[int]:
    """Forgotten sequence numbers whose spans are not yet collected (survives a crash)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'uncollected'").fetchone()
    return {int(x) for x in row[0].split(",") if x} if row else set()


def _set_forgotten_log(conn: sqlite3.Connection, seqs: set[int]) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('uncollected', ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (",".join(str(s) for s in sorted(seqs)),),
    )


def _gaps(live: list[int], forgotten: Iterable[int]) -> set[tuple[int, int | None]]:
    out = set()
    for f in forgotten:
        i = bisect.bisect_left(live, f)
        prev = live[i - 1] if i > 0 else 0
        nxt = live[i] if i < len(live) else None
        out.add((prev, nxt))
    return out


def _collect_spans(conn: sqlite3.Connection, report: PruneReport) -> None:
    forgotten = _forgotten_log(conn)
    if not forgotten:
        return
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
            report.record_spans_deleted += 1
        report.file_spans_deleted += conn.execute(
            f"DELETE FROM file_spans WHERE {where}", params
        ).rowcount
    for h in hashes:
        used = conn.execute("SELECT 1 FROM record_spans WHERE hash = ? LIMIT 1", (h,))
        if used.fetchone() is None:
            conn.execute("DELETE FROM record_data WHERE hash = ?", (h,))
            report.record_texts_deleted += 1
    # Forgotten snapshots newer than every kept one may hold current spans that die later.
    _set_forgotten_log(conn, {f for f in forgotten if f > newest})
