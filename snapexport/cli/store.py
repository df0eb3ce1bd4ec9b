"""Store commands: ``init``, ``check``, ``stats`` and ``rebuild-catalog``."""

from __future__ import annotations

import json
import sys

import click

from snapexport.cli import handle_errors, main, store_option
from snapexport.errors import EXIT_ERROR


@main.command()
@store_option
@click.option("--compression-level", default=3, show_default=True, type=click.IntRange(1, 22),
              help="zstd level for compressible chunks.")  # fmt: skip
@click.option("--encrypt", is_flag=True,
              help="Encrypt everything in the store (password: SNAPEXPORT_PASSWORD, "
                   "--password-file, or a prompt on a terminal).")  # fmt: skip
@handle_errors
def init(store_location: str, compression_level: int, encrypt: bool) -> None:
    """Create an empty store (a folder, or an s3://bucket/prefix)."""
    from snapexport.store import Store

    with Store.init(store_location, compression_level=compression_level,
                    encrypt=encrypt) as store:  # fmt: skip
        what = "encrypted store" if encrypt else "store"
        click.echo(f"created {what} {store.config.store_id} at {store.location}")


@main.command("rebuild-catalog")
@store_option
@click.option("--stop-at-last-good", is_flag=True,
              help="When a catalog delta is missing or damaged, keep the state before it "
                   "(naming the snapshots lost) instead of stopping with an error.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def rebuild_catalog(store_location: str, stop_at_last_good: bool, as_json: bool) -> None:
    """Rebuild a lost or damaged catalog from the pack files alone."""
    from snapexport.store.opened import rebuild_catalog as rebuild

    result = rebuild(store_location, stop_at_last_good=stop_at_last_good)
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    if result.checkpoint is None:
        found = "no catalog checkpoint (content only)"
    else:
        found = f"checkpoint {result.checkpoint} and {result.deltas} delta(s)"
    click.echo(f"rebuilt the catalog from {result.packs} packs: {found}")
    if result.stopped_at is not None:
        click.echo(f"stopped at the last good state: {result.problem}", err=True)
        lost = ", ".join(s[:8] for s in result.lost_snapshots) or "none recorded after it"
        click.echo(f"snapshots lost: {lost} (and any the damaged delta itself recorded)",
                   err=True)  # fmt: skip


@main.command()
@store_option
@click.option("--read-data", is_flag=True, help="Read, decompress and re-hash every chunk.")
@handle_errors
def check(store_location: str, read_data: bool) -> None:
    """Check that every catalog reference resolves (and with --read-data, every byte)."""
    from snapexport.check import check_store
    from snapexport.store import Store

    with Store.open(store_location, write=True) as store:
        report = check_store(store, read_data=read_data)
    for line in report.repairs:
        click.echo(f"repaired: {line}")
    for line in report.problems:
        click.echo(f"damaged: {line}", err=True)
    what = f"{report.packs} packs, {report.chunks} chunks, {report.blobs} blobs"
    if read_data:
        what += f", {report.bytes_read / 1e6:.1f} MB read"
    if not report.ok:
        click.echo(f"snapexport: error: check found {len(report.problems)} problem(s) in "
                   f"{what}", err=True)  # fmt: skip
        sys.exit(EXIT_ERROR)
    click.echo(f"no problems found: {what}")


@main.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@handle_errors
def stats(store_location: str, as_json: bool) -> None:
    """Show chunk, pack and blob counts, stored versus logical bytes and the ratios."""
    from snapexport.store import Store
    from snapexport.store.stats import content_stats

    with Store.open(store_location) as store:
        figures = content_stats(store)
    if as_json:
        click.echo(json.dumps(figures.as_dict(), indent=2))
        return
    click.echo(f"packs:             {figures.packs} ({figures.stored_bytes / 1e6:.1f} MB stored)")
    click.echo(f"chunks:            {figures.chunks} ({figures.unique_bytes / 1e6:.1f} MB plain)")
    click.echo(f"blobs:             {figures.blobs} ({figures.logical_bytes / 1e6:.1f} MB logical)")
    click.echo(f"compression ratio: {figures.compression_ratio:.2f}")
    click.echo(f"dedup ratio:       {figures.dedup_ratio:.2f}")
    click.echo(f"total ratio:       {figures.total_ratio:.2f}")
