"""``snapexport snapshot`` and ``snapexport snapshots``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from snapexport.cli import handle_errors, main, render, store_option
from snapexport.errors import EXIT_ERROR, EXIT_INCOMPLETE


@main.command()
@store_option
@click.option("--settings", help="The site's Django settings module (or DJANGO_SETTINGS_MODULE).")
@click.option("--pythonpath", type=click.Path(file_okay=False), help="Added to sys.path first.")
@click.option(
    "--profile",
    type=click.Choice(["auto", "paperless", "django"]),
    default="auto",
    show_default=True,
    help="What to read: paperless-ngx's export set, or any Django project.",
)
@click.option("--include", multiple=True, help="django profile: app or app.Model to include.")
@click.option("--exclude", multiple=True, help="django profile: app or app.Model to exclude.")
@click.option(
    "--natural-keys", is_flag=True, help="django profile: natural foreign and primary keys."
)
@click.option(
    "--extra-folder",
    multiple=True,
    help="django profile: a storage folder to back up too (relative to MEDIA_ROOT).",
)
@click.option(
    "--from-export",
    "from_export",
    type=click.Path(exists=True, path_type=Path),
    help="Record an existing export (directory or zip) instead of a live site.",
)
@click.option("--passphrase", help="With --from-export: the export's passphrase.")
@click.option("--tag", "tags", multiple=True, help="Tag the snapshot (repeatable).")
@click.option("--batch-size", type=click.IntRange(1), default=500, show_default=True)
@click.option(
    "--db-timeout",
    default="10min",
    show_default=True,
    metavar="DURATION",
    help="Give up (exit 1, nothing committed) when a table stays locked this long"
    " (e.g. 30s, 10min, 1h).",
)
@click.option("--verify-files", is_flag=True, help="Read and hash every file; trust no cache.")
@click.option(
    "--trust-checksums",
    is_flag=True,
    help="Take each file's checksum from the database (or the export's manifest) instead of"
    " computing it: a faster first snapshot or import, but a rotten file is not caught.",
)
@click.option(
    "--verify-records",
    is_flag=True,
    help="Serialize every record and fail if the fast path would store anything different.",
)
@click.option("--strict", is_flag=True, help="Fail (exit 1, no snapshot) if any file is missing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("-v", "--verbose", is_flag=True, help="Name every missing file and warning.")
@handle_errors
def snapshot(
    store_location: str,
    settings: str | None,
    pythonpath: str | None,
    profile: str,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    natural_keys: bool,
    extra_folder: tuple[str, ...],
    from_export: Path | None,
    passphrase: str | None,
    tags: tuple[str, ...],
    batch_size: int,
    db_timeout: str,
    verify_files: bool,
    trust_checksums: bool,
    verify_records: bool,
    strict: bool,
    as_json: bool,
    verbose: bool,
) -> None:
    """Record a snapshot of a site (or of an existing export) into the store.

    Exit codes: 0 done, 1 error (nothing committed), 2 usage, 3 committed but incomplete.
    """
    from snapexport.progress import reporter_for
    from snapexport.snapshot import SnapshotOptions, record_snapshot
    from snapexport.source import SourceRequest
    from snapexport.source.django_waits import parse_timeout

    site = SourceRequest(
        settings=settings,
        pythonpath=pythonpath,
        profile=profile,
        include=tuple(include),
        exclude=tuple(exclude),
        natural_keys=natural_keys,
        extra_folders=tuple(extra_folder),
        batch_size=batch_size,
        db_timeout=parse_timeout(db_timeout),
        from_export=from_export,
        passphrase=passphrase,
    )
    options = SnapshotOptions(
        tags=tags,
        batch_size=batch_size,
        verify_files=verify_files,
        trust_checksums=trust_checksums,
        verify_records=verify_records,
        strict=strict,
    )
    result = record_snapshot(store_location, site, options, reporter_for(quiet=as_json))
    if as_json:
        click.echo(json.dumps(result.as_json()))
    else:
        click.echo(render.snapshot_line(result))
    for w in result.warnings:
        click.echo(f"snapexport: warning: {w}", err=True)
    for m in result.missing:
        click.echo(f"snapexport: missing: {m.path} ({m.reason})", err=True)
    if not result.complete:
        sys.exit(EXIT_INCOMPLETE)


@main.command()
@store_option
@click.option("--tag", help="Only snapshots with this tag.")
@click.option("--max-age", metavar="DURATION",
              help="Exit 1 with one line when the newest complete snapshot is older"
                   " (e.g. 26h, 1d, 90min).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True,
              help="One JSON list for scripts (with --max-age: an object, see docs).")  # fmt: skip
@handle_errors
def snapshots(store_location: str, tag: str | None, max_age: str | None, as_json: bool) -> None:
    """List the store's snapshots, oldest first."""
    from snapexport.snapshots import snapshots_in

    listing = snapshots_in(store_location, tag=tag, max_age=max_age)
    fresh = listing.freshness
    if as_json:
        click.echo(json.dumps(listing.as_json()))
    elif fresh is not None and fresh.fresh:
        click.echo(fresh.summary())
    elif fresh is None:
        for line in render.snapshot_table(listing):
            click.echo(line)
    problem = fresh.problem() if fresh is not None else None
    if problem is not None:
        click.echo(f"snapexport: error: {problem}", err=True)
        sys.exit(EXIT_ERROR)
