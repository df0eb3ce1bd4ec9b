"""Store commands: ``init``, ``check``, ``repair``, ``stats`` and ``rebuild-catalog``."""

from __future__ import annotations

import sys

import click

from snapexport.cli import handle_errors, main, render, store_option
from snapexport.errors import EXIT_ERROR


@main.command()
@store_option
@click.option("--compression-level", default=3, show_default=True, type=click.IntRange(1, 22),
              help="zstd level for compressible chunks.")  # fmt: skip
@click.option("--encrypt", is_flag=True,
              help="Encrypt everything in the store (password: SNAPEXPORT_PASSWORD, "
                   "--password-file, or a prompt on a terminal).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def init(store_location: str, compression_level: int, encrypt: bool, as_json: bool) -> None:
    """Create an empty store (a folder, or an s3://bucket/prefix)."""
    from snapexport.store.opened import create_store

    created = create_store(store_location, compression_level=compression_level, encrypt=encrypt)
    click.echo(render.json_line(created) if as_json else render.created_line(created))


@main.command("rebuild-catalog")
@store_option
@click.option("--stop-at-last-good", is_flag=True,
              help="When a catalog delta is missing or damaged, keep the state before it "
                   "(naming the snapshots lost) instead of stopping with an error.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def rebuild_catalog(store_location: str, stop_at_last_good: bool, as_json: bool) -> None:
    """Rebuild a lost or damaged catalog from the pack files alone."""
    from snapexport.store.opened import rebuild

    result = rebuild(store_location, stop_at_last_good=stop_at_last_good)
    if as_json:
        click.echo(render.json_line(result))
        return
    click.echo(render.rebuilt_line(result))
    for line in render.rebuild_stopped_lines(result):
        click.echo(line, err=True)


@main.command()
@store_option
@click.argument("snapshots", nargs=-1, metavar="[SNAPSHOT]...")
@click.option("--read-data", is_flag=True, help="Read, decompress and re-hash every chunk.")
@click.option("--read-data-subset", "subset", metavar="N/M|P%",
              help="Read only slice N of M of the packs (by id: M runs cover every pack once),"
                   " or P%% of them at random.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def check(store_location: str, snapshots: tuple[str, ...], read_data: bool,
          subset: str | None, as_json: bool) -> None:  # fmt: skip
    """Check that every catalog reference resolves (and with --read-data, every byte).

    With SNAPSHOT ids, only what those snapshots need is read.
    """
    from snapexport.check import run_check

    report = run_check(store_location, read_data=read_data, subset=subset, snapshots=snapshots)
    if as_json:
        click.echo(render.json_line(report))
        if not report.ok:
            click.echo(render.check_failure_line(report), err=True)
    else:
        for to_stderr, line in render.check_lines(report):
            click.echo(line, err=to_stderr)
    if not report.ok:
        sys.exit(EXIT_ERROR)


@main.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def repair(store_location: str, as_json: bool) -> None:
    """Forget packs the store no longer holds and mark the snapshots they damaged.

    The next snapshot then stores again what the site still has (and heals older snapshots
    holding the same files); materialize writes the rest of a damaged snapshot.
    """
    from snapexport.check import run_repair

    report = run_repair(store_location)
    if as_json:
        click.echo(render.json_line(report))
        return
    for pid in report.lost.packs:
        click.echo(f"forgot missing pack {pid}")
    for d in report.damaged:
        click.echo(
            f"snapshot {d.id[:8]}: {d.files_lost} file(s) lost (first: {d.first_path}),"
            " marked incomplete"
        )
    if report.healed:
        click.echo(f"{report.healed} snapshot(s) whole again (their files were stored again)")
    if not (report.lost or report.damaged or report.healed):
        click.echo("nothing to repair")


@main.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def stats(store_location: str, as_json: bool) -> None:
    """Show chunk, pack and blob counts, stored versus logical bytes and the ratios."""
    from snapexport.store.stats import stats_of

    figures = stats_of(store_location)
    if as_json:
        click.echo(render.json_line(figures))
        return
    for line in render.stats_lines(figures):
        click.echo(line)
