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
moment leaves every kept snapshot whole and the next run finishes the job. For tests,
``SNAPEXPORT_TEST_CRASH_AT=<point>`` makes the process kill itself (SIGKILL) at one of
``CRASH_POINTS``; ``<point>=pause:<file>`` instead creates ``<file>.reached`` and waits
(up to two minutes) until ``<file>`` exists, to hold prune's lock at that point.
"""

from __future__ import annotations

import bisect
import os
import signal
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapexport.catalog import snapshots as snaps
from snapexport.errors import UsageError
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

CRASH_ENV = "SNAPEXPORT_TEST_CRASH_AT"
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


def _crash_point(name: str) -> None:
    """Kill this process (as kill -9 would) when the test environment names this point."""
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, action = spec.partition("=")
    if point != name:
        return
    if action.startswith("pause:"):
        flag = Path(action.removeprefix("pause:"))
        flag.with_name(flag.name + ".reached").touch()
        deadline = time.monotonic() + 120
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return
    os.kill(os.getpid(), signal.SIGKILL)


class _CrashingBackend:
    """Wraps the store's backend to reach the crash points inside the store's collection."""

    def __init__(self, inner: Any, point: str) -> None:
        self._inner = inner
        self._point = point

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def save(self, *args: Any, **kwargs: Any) -> Any:
        out = self._inner.save(*args, **kwargs)
        if self._point == "after-repack-save":
            _crash_point(self._point)
        return out

    def remove(self, *args: Any, **kwargs: Any) -> Any:
        out = self._inner.remove(*args, **kwargs)
        if self._point == "after-pack-delete":
            _crash_point(self._point)
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
    from snapexport.store import gc

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
                result = gc.collect_garbage(
                    store, LIVE_BLOBS_SQL, max_unused=max_unused, dry_run=True
                )
                report.store = dict(result.as_dict())
        finally:
            conn.execute("ROLLBACK")
        return report
    if plan is not None:
        forget(conn, plan.remove)
        _crash_point("after-forget")
    if collect:
        collect_spans(conn, report)
        _crash_point("after-spans")
        point = os.environ.get(CRASH_ENV, "").partition("=")[0]
        if point in ("after-repack-save", "after-pack-delete"):
            store.backend = _CrashingBackend(store.backend, point)
        result = store.collect_garbage(LIVE_BLOBS_SQL, max_unused=max_unused)
        report.store = dict(result.as_dict())
        _crash_point("after-gc")
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
