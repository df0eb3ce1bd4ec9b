"""``snapexport forget`` and ``snapexport prune``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from snapexport.cli import handle_errors, main, store_option
from snapexport.policy import Policy, parse_duration
from snapexport.prune import ForgetPlan, PruneReport

if TYPE_CHECKING:
    from snapexport.catalog import Catalog


def _policy_options(f: Any) -> Any:
    opts = [
        click.option("--keep-last", type=int, default=0, help="Keep the N newest snapshots."),
        click.option("--keep-hourly", type=int, default=0, help="Newest of each of N hours."),
        click.option("--keep-daily", type=int, default=0, help="Newest of each of N days."),
        click.option("--keep-weekly", type=int, default=0, help="Newest of each of N weeks."),
        click.option("--keep-monthly", type=int, default=0, help="Newest of each of N months."),
        click.option("--keep-yearly", type=int, default=0, help="Newest of each of N years."),
        click.option("--keep-within", help="Keep all within this duration of the newest (30d)."),
        click.option("--keep-tag", "keep_tags", multiple=True, help="Keep snapshots with tag."),
        click.option("--tag", help="Only consider snapshots with this tag."),
        click.option("--allow-empty", is_flag=True, help="Allow a policy that keeps nothing."),
        click.option(
            "--dry-run", "-n", is_flag=True, help="Show what would happen; change nothing."
        ),
        click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _plan(catalog: Catalog, ids: tuple[str, ...], kw: dict[str, Any]) -> ForgetPlan:
    from snapexport.prune import plan_ids, plan_policy

    policy = Policy(
        keep_last=kw["keep_last"],
        keep_hourly=kw["keep_hourly"],
        keep_daily=kw["keep_daily"],
        keep_weekly=kw["keep_weekly"],
        keep_monthly=kw["keep_monthly"],
        keep_yearly=kw["keep_yearly"],
        keep_within=parse_duration(kw["keep_within"]) if kw["keep_within"] else None,
        keep_tags=tuple(kw["keep_tags"]),
    )
    if ids:
        if not policy.is_empty():
            from snapexport.errors import UsageError

            raise UsageError("name snapshots or give a policy, not both")
        return plan_ids(catalog, ids)
    return plan_policy(catalog, policy, tag=kw["tag"], allow_empty=kw["allow_empty"])


def _run(store_location: str, ids: tuple[str, ...], prune: bool, kw: dict[str, Any]) -> None:
    from snapexport.prune import run_prune
    from snapexport.store import Store

    dry_run, as_json = kw["dry_run"], kw["as_json"]
    # A dry run only reads: a shared lock, no crash recovery, and its simulated changes are
    # rolled back, so the store's files and catalog stay exactly as they were.
    with Store.open(store_location, write=not dry_run) as store:
        plan = _plan(store.catalog, ids, kw) if (ids or not prune or _has_policy(kw)) else None
        report = run_prune(
            store, plan, collect=prune, dry_run=dry_run, max_unused=kw.get("max_unused", 0.1)
        )
    if as_json:
        click.echo(json.dumps(_as_json(plan, report, dry_run)))
        return
    if plan is not None:
        for d in plan.decisions:
            verb = "keep  " if d.keep else ("would remove" if dry_run else "remove")
            why = f"  ({', '.join(d.reasons)})" if d.keep else ""
            click.echo(f"{verb:<12} {d.snapshot.short_id} {d.snapshot.time:%Y-%m-%d %H:%M:%S}{why}")
        click.echo(
            f"{len(plan.keep)} kept, {len(plan.remove)} {'to remove' if dry_run else 'removed'}"
        )
    if prune:
        prefix = "would free" if dry_run else "freed"
        click.echo(
            f"{prefix} {report.store.get('bytes_freed', 0) / 1e6:.1f} MB:"
            f" {report.record_spans_deleted} record versions, {report.file_spans_deleted} file"
            f" versions, {report.store.get('blobs_deleted', 0)} blobs,"
            f" {report.store.get('packs_deleted', 0)} packs deleted,"
            f" {report.store.get('packs_repacked', 0)} repacked"
        )


def _has_policy(kw: dict[str, Any]) -> bool:
    keys = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
    return any(kw[k] for k in keys) or bool(kw["keep_within"]) or bool(kw["keep_tags"])


def _as_json(plan: ForgetPlan | None, report: PruneReport, dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "keep": [
            {"id": d.snapshot.id, "time": d.snapshot.time.isoformat(), "reasons": list(d.reasons)}
            for d in (plan.keep if plan else [])
        ],
        "remove": [{"id": s.id, "time": s.time.isoformat()} for s in (plan.remove if plan else [])],
        "freed": {
            "record_spans": report.record_spans_deleted,
            "record_texts": report.record_texts_deleted,
            "file_spans": report.file_spans_deleted,
            **report.store,
        },
    }


_MAX_UNUSED = click.option(
    "--max-unused",
    type=click.FloatRange(0, 1),
    default=0.10,
    show_default=True,
    help="Repack packs whose unused share exceeds this.",
)


@main.command()
@store_option
@click.argument("snapshot_ids", nargs=-1)
@_policy_options
@click.option("--prune", "also_prune", is_flag=True, help="Free unused data afterwards.")
@_MAX_UNUSED
@handle_errors
def forget(store_location: str, snapshot_ids: tuple[str, ...], also_prune: bool, **kw: Any) -> None:
    """Forget snapshots by id or by a retention policy (restic's --keep-* rules)."""
    _run(store_location, snapshot_ids, also_prune, kw)


@main.command()
@store_option
@_policy_options
@_MAX_UNUSED
@handle_errors
def prune(store_location: str, **kw: Any) -> None:
    """Apply a retention policy (if given), then free what no snapshot uses."""
    _run(store_location, (), True, kw)
