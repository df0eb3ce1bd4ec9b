"""``snapexport forget`` and ``snapexport prune``."""

from __future__ import annotations

import json
from typing import Any

import click

from snapexport.cli import handle_errors, main, render, store_option


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


def _run(store_location: str, ids: tuple[str, ...], collect: bool, kw: dict[str, Any]) -> None:
    from snapexport.prune import ForgetRequest, forget_and_prune

    request = ForgetRequest(
        ids=ids,
        keep_last=kw["keep_last"],
        keep_hourly=kw["keep_hourly"],
        keep_daily=kw["keep_daily"],
        keep_weekly=kw["keep_weekly"],
        keep_monthly=kw["keep_monthly"],
        keep_yearly=kw["keep_yearly"],
        keep_within=kw["keep_within"] or None,
        keep_tags=tuple(kw["keep_tags"]),
        tag=kw["tag"],
        allow_empty=kw["allow_empty"],
        collect=collect,
        dry_run=kw["dry_run"],
        max_unused=kw.get("max_unused", 0.1),
    )
    outcome = forget_and_prune(store_location, request)
    if kw["as_json"]:
        click.echo(json.dumps(outcome.as_json()))
    else:
        for line in render.prune_lines(outcome):
            click.echo(line)


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
    if snapshot_ids:  # named snapshots: the config file's retention policy does not apply
        ctx = click.get_current_context()
        for name in list(kw):
            if ctx.get_parameter_source(name) is click.core.ParameterSource.DEFAULT_MAP:
                kw[name] = () if name == "keep_tags" else (None if name == "keep_within" else 0)
    _run(store_location, snapshot_ids, also_prune, kw)


@main.command()
@store_option
@_policy_options
@_MAX_UNUSED
@handle_errors
def prune(store_location: str, **kw: Any) -> None:
    """Apply a retention policy (if given), then free what no snapshot uses."""
    _run(store_location, (), True, kw)
