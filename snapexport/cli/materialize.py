"""``snapexport materialize``: write a snapshot as paperless-ngx's document_exporter would."""

from __future__ import annotations

import json
import sys

import click

from snapexport.cli import handle_errors, main, render, store_option
from snapexport.errors import EXIT_INCOMPLETE, UsageError
from snapexport.progress import reporter_for


@main.command()
@store_option
@click.argument("args", nargs=-1, metavar="[SNAPSHOT] TARGET")
@click.option("--tag", help="Use the newest snapshot with this tag.")
@click.option("-z", "--zip", "as_zip", is_flag=True, help="Write one zip file into TARGET.")
@click.option("-zn", "--zip-name", help="Zip file name (default export-<date>).")
@click.option(
    "--zip-compression",
    type=click.Choice(["auto", "deflated", "stored"]),
    default="auto",
    show_default=True,
    help="auto stores PDFs/images as they are and deflates text and JSON.",
)
@click.option("-p", "--use-folder-prefix", is_flag=True, help="originals/, archive/, ...")
@click.option("-sm", "--split-manifest", is_flag=True, help="One manifest per document.")
@click.option("-f", "--use-filename-format", is_flag=True, help="Name files as stored.")
@click.option("-na", "--no-archive", is_flag=True, help="Leave out archive PDFs.")
@click.option("-nt", "--no-thumbnail", is_flag=True, help="Leave out thumbnails.")
@click.option("--data-only", is_flag=True, help="Only manifest.json and metadata.json.")
@click.option("--passphrase", help="Encrypt sensitive fields as the exporter does.")
@click.option("-d", "--delete", is_flag=True, help="Remove files this run did not write.")
@click.option("-c", "--compare-checksums", is_flag=True, help="Compare by SHA-256, not mtime.")
@click.option("-cj", "--compare-json", is_flag=True, help="Rewrite JSON only when it changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@handle_errors
def materialize(
    store_location: str,
    args: tuple[str, ...],
    tag: str | None,
    as_zip: bool,
    zip_name: str | None,
    zip_compression: str,
    use_folder_prefix: bool,
    split_manifest: bool,
    use_filename_format: bool,
    no_archive: bool,
    no_thumbnail: bool,
    data_only: bool,
    passphrase: str | None,
    delete: bool,
    compare_checksums: bool,
    compare_json: bool,
    as_json: bool,
) -> None:
    """Write SNAPSHOT (default: latest) into TARGET as document_exporter would.

    Runs from the store alone: no Django project, database or media folder is needed.
    """
    from snapexport.materialize.options import ExportOptions
    from snapexport.materializing import materialize_snapshot

    if len(args) == 1:
        spec, target = "latest", args[0]
    elif len(args) == 2:
        spec, target = args
    else:
        raise UsageError("give a TARGET folder, optionally preceded by a SNAPSHOT")
    options = ExportOptions(
        zip=as_zip,
        zip_name=zip_name,
        use_folder_prefix=use_folder_prefix,
        split_manifest=split_manifest,
        use_filename_format=use_filename_format,
        no_archive=no_archive,
        no_thumbnail=no_thumbnail,
        data_only=data_only,
        passphrase=passphrase,
        delete=delete,
        compare_checksums=compare_checksums,
        compare_json=compare_json,
        zip_compression=zip_compression,  # type: ignore[arg-type]
    )
    done = materialize_snapshot(
        store_location, spec, target, options, tag=tag, reporter=reporter_for(quiet=as_json)
    )
    result = done.result
    if as_json:
        click.echo(json.dumps(done.as_json(), ensure_ascii=False))
    else:
        click.echo(render.materialized_line(done))
    for w in result.warnings:
        click.echo(f"snapexport: warning: {w}", err=True)
    for d in result.departures:
        click.echo(f"snapexport: note: {d}", err=True)
    for m in result.missing:
        click.echo(f"snapexport: missing: {m.name} ({m.reason})", err=True)
    if not result.complete:
        sys.exit(EXIT_INCOMPLETE)
