"""Text for people: how the commands' result objects read on a terminal or in a cron mail.

The library returns result objects (each with ``as_json()`` for ``--json``); the commands
hand them here for the text they print. The words are part of the interface (tests compare
them), so they change only on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # each command imports only what it runs (tests/test_cli_lazy.py)
    from snapexport.check import CheckReport
    from snapexport.demo.tour import DemoRun
    from snapexport.materializing import Materialized
    from snapexport.prune import PruneOutcome
    from snapexport.snapshot import SnapshotResult
    from snapexport.snapshots import SnapshotList
    from snapexport.store.keyring import KeyChange, KeyList
    from snapexport.store.opened import Created, Rebuilt
    from snapexport.store.stats import ContentStats
    from snapexport.verify import ExportComparison


class _HasJson(Protocol):
    def as_json(self) -> Any: ...


def json_line(result: _HasJson) -> str:
    """``--json``: the result object as one line of JSON (non-ASCII kept as is)."""
    return json.dumps(result.as_json(), ensure_ascii=False)


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def created_line(created: Created) -> str:
    what = "encrypted store" if created.encrypted else "store"
    return f"created {what} {created.store_id} at {created.location}"


def rebuilt_line(rebuilt: Rebuilt) -> str:
    if rebuilt.checkpoint is None:
        found = "no catalog checkpoint (content only)"
    else:
        found = f"checkpoint {rebuilt.checkpoint} and {rebuilt.deltas} delta(s)"
    return f"rebuilt the catalog from {rebuilt.packs} packs: {found}"


def rebuild_stopped_lines(rebuilt: Rebuilt) -> list[str]:
    """For stderr, when a rebuild stopped at the last good state."""
    if rebuilt.stopped_at is None:
        return []
    lost = ", ".join(s[:8] for s in rebuilt.lost_snapshots) or "none recorded after it"
    return [
        f"stopped at the last good state: {rebuilt.problem}",
        f"snapshots lost: {lost} (and any the damaged delta itself recorded)",
    ]


def materialized_line(done: Materialized) -> str:
    r = done.result
    state = "" if r.complete else f", INCOMPLETE: {len(r.missing)} file(s) missing"
    return (
        f"materialized snapshot {done.snapshot.short_id} to {r.path}: {r.documents}"
        f" documents, {r.records} records, {r.files_written} files written,"
        f" {r.files_skipped} unchanged, {r.bytes_written / 1e6:.1f} MB{state}"
    )


def check_summary(report: CheckReport) -> str:
    """What was checked: counts, and the bytes read with --read-data."""
    what = f"{report.packs} packs, {report.chunks} chunks, {report.blobs} blobs"
    if report.read_data and report.scope == "all":
        what += f", {report.bytes_read / 1e6:.1f} MB read"
    elif report.read_data:
        what += (f"; read {report.packs_read} of {report.packs} packs"
                 f" ({report.pack_bytes_read / 1e6:.1f} of {report.pack_bytes_total / 1e6:.1f}"
                 f" MB, {report.scope})")  # fmt: skip
    return what


def check_lines(report: CheckReport) -> Iterator[tuple[bool, str]]:
    """``check``: (to stderr?, line) for each repair and problem, then the verdict."""
    for line in report.repairs:
        yield False, f"repaired: {line}"
    for line in report.notes:
        yield False, f"note: {line}"
    for line in report.problems:
        yield True, f"damaged: {line}"
    yield (False, f"no problems found: {check_summary(report)}") if report.ok else (
        True, check_failure_line(report),
    )  # fmt: skip


def check_failure_line(report: CheckReport) -> str:
    """The stderr line of a check that found problems (also printed with ``--json``)."""
    return (
        f"snapexport: error: check found {len(report.problems)} problem(s) in"
        f" {check_summary(report)}"
    )


def stats_lines(figures: ContentStats) -> Iterator[str]:
    yield f"packs:             {figures.packs} ({figures.stored_bytes / 1e6:.1f} MB stored)"
    yield f"chunks:            {figures.chunks} ({figures.unique_bytes / 1e6:.1f} MB plain)"
    yield f"blobs:             {figures.blobs} ({figures.logical_bytes / 1e6:.1f} MB logical)"
    yield f"compression ratio: {figures.compression_ratio:.2f}"
    yield f"dedup ratio:       {figures.dedup_ratio:.2f}"
    yield f"total ratio:       {figures.total_ratio:.2f}"


def snapshot_line(r: SnapshotResult) -> str:
    """The one line ``snapexport snapshot`` prints."""
    d = r.documents
    docs = (
        f"documents {d['new']} new, {d['changed']} changed, {d['unchanged']} unchanged,"
        f" {d['removed']} removed; "
        if any(d.values())
        else ""
    )
    rec = r.records
    state = "complete" if r.complete else f"INCOMPLETE ({len(r.missing)} file(s) missing)"
    return (
        f"snapshot {r.meta.short_id} saved, {state}: {docs}records {rec['new']} new,"
        f" {rec['changed']} changed, {rec['removed']} removed; files read {r.files_read},"
        f" skipped {r.files_skipped}; read {mb(r.bytes_read)}, stored {mb(r.bytes_stored)}"
        f" in {r.seconds:.1f}s"
        + (f"; {r.restored} file(s) stored again (lost with a missing pack)" if r.restored else "")
    )


def snapshot_table(listing: SnapshotList) -> Iterator[str]:
    """``snapexport snapshots``: a header, one row per snapshot, a count."""
    yield (
        f"{'ID':<9} {'Time (UTC)':<20} {'Docs':>6} {'Records':>8} {'Files':>6}"
        f" {'Size':>10} {'Added':>10}  State  Tags"
    )
    for m in listing.snapshots:
        s = m.stats
        yield (
            f"{m.short_id:<9} {m.time.strftime('%Y-%m-%d %H:%M:%S'):<20}"
            f" {s.get('documents', 0):>6} {s.get('records', 0):>8} {s.get('files', 0):>6}"
            f" {mb(s.get('logical_bytes', 0)):>10} {mb(s.get('bytes_added', 0)):>10}"
            f"  {'ok    ' if m.complete else 'INCOMPLETE'} {','.join(m.tags)}"
        )
    yield f"{len(listing.snapshots)} snapshot(s)"


def prune_lines(outcome: PruneOutcome) -> Iterator[str]:
    """``forget``/``prune``: one line per snapshot decided, a tally, then what was freed."""
    plan, report, dry_run = outcome.plan, outcome.report, outcome.dry_run
    if plan is not None:
        for d in plan.decisions:
            verb = "keep  " if d.keep else ("would remove" if dry_run else "remove")
            why = f"  ({', '.join(d.reasons)})" if d.keep else ""
            yield f"{verb:<12} {d.snapshot.short_id} {d.snapshot.time:%Y-%m-%d %H:%M:%S}{why}"
        yield f"{len(plan.keep)} kept, {len(plan.remove)} {'to remove' if dry_run else 'removed'}"
    if outcome.collected:
        prefix = "would free" if dry_run else "freed"
        yield (
            f"{prefix} {report.store.get('bytes_freed', 0) / 1e6:.1f} MB:"
            f" {report.record_spans_deleted} record versions, {report.file_spans_deleted} file"
            f" versions, {report.store.get('blobs_deleted', 0)} blobs,"
            f" {report.store.get('packs_deleted', 0)} packs deleted,"
            f" {report.store.get('packs_repacked', 0)} repacked"
        )


def key_lines(listing: KeyList) -> Iterator[str]:
    """``key list``: one line per key object; * marks the one the password opened."""
    for k in listing.keys:
        mark = "*" if k.id == listing.current else " "
        yield f"{mark} {k.id[:12]}  {k.created}  {k.user}@{k.host}  {k.kdf}"


def key_change_line(change: KeyChange) -> str:
    if change.added and change.removed:
        return f"password changed: key {change.added[:12]} replaces {change.removed[:12]}"
    if change.added:
        return f"added key {change.added[:12]}"
    assert change.removed is not None
    return f"removed key {change.removed[:12]}"


def demo_lines(run: DemoRun) -> Iterator[str]:
    """``demo``: one line per snapshot taken, what the night cost, what to try next."""
    for name, r in run.results:
        d = r.documents
        yield (
            f"{name}: snapshot {r.meta.short_id}: documents {d['new']} new, {d['changed']}"
            f" changed, {d['removed']} removed, {d['unchanged']} unchanged; files read"
            f" {r.files_read} ({r.bytes_read / 1e6:.2f} MB), skipped {r.files_skipped};"
            f" stored {r.bytes_stored / 1e6:.2f} MB in {r.seconds:.2f}s"
        )
    first, last = run.results[0][1], run.results[-1][1]
    if len(run.results) > 1 and first.bytes_stored:
        share = 100 * last.bytes_stored / first.bytes_stored
        yield f"the night cost {share:.1f}% of the first snapshot's stored bytes"
    yield (
        f"next: snapexport materialize --store {run.store} --zip OUT   |"
        f"   snapexport diff --store {run.store} latest~1 latest"
    )


def comparison_lines(report: ExportComparison) -> Iterator[str]:
    """``diff SNAPSHOT EXPORT``: the flags, one line a difference, a verdict."""
    flags = " ".join(report.flag_words()) or "no flags"
    yield f"comparing snapshot {report.snapshot.short_id} with {report.path} ({flags})"
    marks = {"missing": "-", "extra": "+"}
    for d in report.differences:
        yield f"{marks.get(d.kind, 'M')}  {d.describe()}"
    if report.unlisted:
        yield f"   ... and {report.unlisted} more differences"
    for note in report.notes:
        yield f"note: {note}"
    total = len(report.differences) + report.unlisted
    verdict = "identical" if report.identical else f"{total} difference(s)"
    yield (
        f"{report.files_checked} files checked ({mb(report.bytes_hashed)} hashed),"
        f" {report.records_checked} records checked: {verdict}"
    )
