"""Text for people: how the commands' result objects read on a terminal or in a cron mail.

The library returns result objects (each with ``as_json()`` for ``--json``); the commands
hand them here for the text they print. The words are part of the interface (tests compare
them), so they change only on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # each command imports only what it runs (tests/test_cli_lazy.py)
    from snapexport.prune import PruneOutcome


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
