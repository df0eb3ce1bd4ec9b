"""``snapexport snapshot`` and ``snapexport snapshots``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from snapexport.cli import echo_notes, handle_errors, main, store_option
from snapexport.errors import EXIT_INCOMPLETE

if TYPE_CHECKING:
    from snapexport.snapshot import SnapshotResult
    from snapexport.source.base import Source


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _summary_line(r: SnapshotResult) -> str:
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
        f" skipped {r.files_skipped}; read {_mb(r.bytes_read)}, stored {_mb(r.bytes_stored)}"
        f" in {r.seconds:.1f}s"
        + (f"; {r.restored} file(s) stored again (lost with a missing pack)" if r.restored else "")
    )


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
@click.option("--verify-files", is_flag=True, help="Read and hash every file; trust no cache.")
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
    verify_files: bool,
    verify_records: bool,
    strict: bool,
    as_json: bool,
    verbose: bool,
) -> None:
    """Record a snapshot of a site (or of an existing export) into the store.

    Exit codes: 0 done, 1 error (nothing committed), 2 usage, 3 committed but incomplete.
    """
    from snapexport.progress import reporter_for
    from snapexport.snapshot import SnapshotOptions, take_snapshot
    from snapexport.store import Store

    source: Source
    if from_export is not None:
        from snapexport.source.export import ExportSource

        source = ExportSource(from_export, passphrase=passphrase)
    else:
        from snapexport.source import connect_site

        chosen = None if profile == "auto" else profile
        options_for: dict[str, Any] = {"batch_size": batch_size}
        if chosen == "django" or include or exclude or extra_folder or natural_keys:
            options_for.update(include=include, exclude=exclude, extra_folders=extra_folder)
            if natural_keys:
                options_for.update(natural_foreign=True, natural_primary=True)
        source = connect_site(settings, [pythonpath] if pythonpath else [], chosen, **options_for)
    options = SnapshotOptions(
        tags=tags,
        batch_size=batch_size,
        verify_files=verify_files,
        verify_records=verify_records,
        strict=strict,
    )
    with Store.open(store_location, write=True, append=True) as store:
        result = take_snapshot(store, source, options, reporter_for(quiet=as_json))
    if as_json:
        click.echo(json.dumps(result.summary()))
    else:
        click.echo(_summary_line(result))
    for w in result.warnings:
        click.echo(f"snapexport: warning: {w}", err=True)
    for m in result.missing:
        click.echo(f"snapexport: missing: {m.path} ({m.reason})", err=True)
    if not result.complete:
        sys.exit(EXIT_INCOMPLETE)


@main.command()
@store_option
@click.option("--tag", help="Only snapshots with this tag.")
@click.option("--json", "as_json", is_flag=True, help="One JSON list for scripts.")
@handle_errors
def snapshots(store_location: str, tag: str | None, as_json: bool) -> None:
    """List the store's snapshots, oldest first."""
    from snapexport.snapshots import list_snapshots
    from snapexport.store import Store

    with Store.open(store_location) as store:
        echo_notes(store)
        metas = list_snapshots(store, tag=tag)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": m.id,
                        "short_id": m.short_id,
                        "time": m.time.isoformat(),
                        "host": m.host,
                        "profile": m.profile,
                        "tags": list(m.tags),
                        "complete": m.complete,
                        "documents": m.stats.get("documents"),
                        "records": m.stats.get("records"),
                        "files": m.stats.get("files"),
                        "logical_bytes": m.stats.get("logical_bytes"),
                        "bytes_added": m.stats.get("bytes_added"),
                    }
                    for m in metas
                ]
            )
        )
        return
    click.echo(
        f"{'ID':<9} {'Time (UTC)':<20} {'Docs':>6} {'Records':>8} {'Files':>6}"
        f" {'Size':>10} {'Added':>10}  State  Tags"
    )
    for m in metas:
        s = m.stats
        click.echo(
            f"{m.short_id:<9} {m.time.strftime('%Y-%m-%d %H:%M:%S'):<20}"
            f" {s.get('documents', 0):>6} {s.get('records', 0):>8} {s.get('files', 0):>6}"
            f" {_mb(s.get('logical_bytes', 0)):>10} {_mb(s.get('bytes_added', 0)):>10}"
            f"  {'ok    ' if m.complete else 'INCOMPLETE'} {','.join(m.tags)}"
        )
    click.echo(f"{len(metas)} snapshot(s)")
