"""Forgetting snapshots and freeing what no remaining snapshot uses.

``forget`` removes snapshot rows (by id or by a retention policy). ``prune`` then deletes the
spans that no remaining snapshot lies inside, the record texts and blobs only those spans
used, and hands the dead blobs to the store, which frees their chunks and deletes or
repacks packs.

Which spans are dead, and how that costs what was freed rather than the size of the store,
is the catalog's business (``catalog/retention.py``).

Crash safety: every step commits on its own (forget, span collection, the store's
collection, which writes new packs before it deletes old ones), so a run killed at any
moment leaves every kept snapshot whole and the next run finishes the job. Tests kill or
pause a real prune at ``CRASH_POINTS`` through ``snapexport.faults``
(``SNAPEXPORT_FAULT=prune:after-spans=kill``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from snapexport import faults
from snapexport.catalog import Catalog
from snapexport.catalog.retention import SpansCollected
from snapexport.errors import RequestError
from snapexport.faults import checkpoint
from snapexport.policy import Decision, Policy, apply_policy, parse_duration
from snapexport.store import Store
from snapexport.store.gc import collect_garbage
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

    def add(self, spans: SpansCollected) -> None:
        self.record_spans_deleted += spans.record_spans
        self.record_texts_deleted += spans.record_texts
        self.file_spans_deleted += spans.file_spans


def plan_policy(
    catalog: Catalog,
    policy: Policy,
    *,
    tag: str | None = None,
    allow_empty: bool = False,
    tz: Any = None,
) -> ForgetPlan:
    """Apply ``policy`` to the snapshots (only those with ``tag``, when given)."""
    if policy.is_empty():
        raise RequestError("no policy given: name snapshots to forget or use --keep-* options")
    candidates = catalog.snapshots.all(tag=tag)
    decisions = tuple(apply_policy(candidates, policy, tz=tz))
    if decisions and not any(d.keep for d in decisions) and not allow_empty:
        raise RequestError(
            f"the policy would remove all {len(decisions)} snapshot(s); add --allow-empty"
            " if that is what you want"
        )
    return ForgetPlan(decisions)


def plan_ids(catalog: Catalog, specs: Sequence[str]) -> ForgetPlan:
    """Forget exactly the snapshots named (ids or unique prefixes)."""
    chosen = {catalog.snapshots.resolve(s).seq for s in specs}
    decisions = tuple(
        Decision(m, () if m.seq in chosen else ("not named",))
        for m in sorted(catalog.snapshots.all(), key=lambda s: s.time, reverse=True)
    )
    return ForgetPlan(decisions)


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


def forget(catalog: Catalog, snapshots: Iterable[SnapshotMeta]) -> list[int]:
    """Delete the snapshot rows (one transaction). Returns the forgotten sequence numbers."""
    with catalog.transaction():
        return catalog.retention.forget(s.seq for s in snapshots)


def collect_spans(catalog: Catalog, report: PruneReport) -> None:
    """Delete spans no snapshot lies inside, and record texts only they used.

    One transaction. Forgotten snapshots are read from the catalog's own log, so a prune
    killed after ``forget`` finishes the job on its next run.
    """
    with catalog.transaction():
        report.add(catalog.retention.collect_spans())


def run_prune(
    store: Store,
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
    catalog = store.catalog
    report = PruneReport(snapshots_removed=len(plan.remove) if plan else 0)
    if dry_run:
        if store.write:
            store.flush()
        with catalog.transaction(dry_run=True):
            if plan is not None:
                catalog.retention.forget(s.seq for s in plan.remove)
            if collect:
                report.add(catalog.retention.collect_spans())
                # A real run saves a checkpoint of the catalog when it changed it, and
                # then frees the journal entries before it (see below).
                replaced = catalog.journal.log_max() > 0 or store.config.version < 3
                result = collect_garbage(
                    store, catalog.retention.live_blobs(), max_unused=max_unused,
                    dry_run=True, keep_image=not replaced,
                )  # fmt: skip
                report.store = dict(result.as_dict())
        return report
    if plan is not None:
        forget(catalog, plan.remove)
        checkpoint("prune:after-forget")
    if collect:
        collect_spans(catalog, report)
        checkpoint("prune:after-spans")
        if faults.armed("prune:after-repack-save", "prune:after-pack-delete"):
            store.backend = _CheckpointedBackend(store.backend)
        result = store.collect_garbage(catalog.retention.live_blobs(), max_unused=max_unused)
        report.store = dict(result.as_dict())
        # The store keeps its newest checkpoint and the deltas since. Saved on close, this
        # prune's change would be one more delta, leaving them all for the next prune to
        # free. Save a checkpoint now and collect again, so that one prune frees everything
        # its policy and max_unused allow.
        if store.publish_catalog(checkpoint=True) is not None:
            again = store.collect_garbage(catalog.retention.live_blobs(), max_unused=max_unused)
            for key, value in again.as_dict().items():
                if key != "dry_run":
                    report.store[key] = int(report.store[key]) + int(value)
        checkpoint("prune:after-gc")
    return report


# -- the verbs: ``snapexport forget`` and ``snapexport prune`` ------------------------------


@dataclass(frozen=True, slots=True)
class ForgetRequest:
    """What ``forget``/``prune`` were asked: snapshot ids or a policy, and whether to collect.

    ``keep_within`` stays text (``30d``) until the run: a bad duration is reported after the
    store opened, as every other problem with the request.
    """

    ids: tuple[str, ...] = ()
    keep_last: int = 0
    keep_hourly: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0
    keep_within: str | None = None
    keep_tags: tuple[str, ...] = ()
    tag: str | None = None  # consider only snapshots with this tag
    allow_empty: bool = False  # a policy may remove every snapshot
    collect: bool = True  # free what nothing uses afterwards (prune)
    dry_run: bool = False
    max_unused: float = 0.10

    def policy(self) -> Policy:
        return Policy(
            keep_last=self.keep_last,
            keep_hourly=self.keep_hourly,
            keep_daily=self.keep_daily,
            keep_weekly=self.keep_weekly,
            keep_monthly=self.keep_monthly,
            keep_yearly=self.keep_yearly,
            keep_within=parse_duration(self.keep_within) if self.keep_within else None,
            keep_tags=self.keep_tags,
        )


@dataclass(frozen=True, slots=True)
class PruneOutcome:
    """What a ``forget``/``prune`` run decided and freed (or, dry, would)."""

    plan: ForgetPlan | None  # None: nothing to forget, only collect
    report: PruneReport
    dry_run: bool
    collected: bool

    def as_json(self) -> dict[str, Any]:
        plan, report = self.plan, self.report
        return {
            "dry_run": self.dry_run,
            "keep": [
                {
                    "id": d.snapshot.id,
                    "time": d.snapshot.time.isoformat(),
                    "reasons": list(d.reasons),
                }
                for d in (plan.keep if plan else [])
            ],
            "remove": [
                {"id": s.id, "time": s.time.isoformat()} for s in (plan.remove if plan else [])
            ],
            "freed": {
                "record_spans": report.record_spans_deleted,
                "record_texts": report.record_texts_deleted,
                "file_spans": report.file_spans_deleted,
                **report.store,
            },
        }


def plan_request(catalog: Catalog, request: ForgetRequest) -> ForgetPlan | None:
    """The snapshots ``request`` forgets; None when it only collects (``prune`` alone)."""
    policy = request.policy()
    if request.ids:
        if not policy.is_empty():
            raise RequestError("name snapshots or give a policy, not both")
        return plan_ids(catalog, request.ids)
    if request.collect and policy.is_empty():
        return None
    return plan_policy(catalog, policy, tag=request.tag, allow_empty=request.allow_empty)


def forget_and_prune(store_location: str, request: ForgetRequest) -> PruneOutcome:
    """``snapexport forget``/``prune``: open the store, plan, forget, collect."""
    # A dry run only reads: a shared lock, no crash recovery, and its simulated changes are
    # rolled back, so the store's files and catalog stay exactly as they were.
    with Store.open(store_location, write=not request.dry_run) as store:
        plan = plan_request(store.catalog, request)
        report = run_prune(
            store,
            plan,
            collect=request.collect,
            dry_run=request.dry_run,
            max_unused=request.max_unused,
        )
    return PruneOutcome(plan, report, request.dry_run, request.collect)
