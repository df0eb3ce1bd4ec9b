"""``snapexport diff``: between two snapshots, or a snapshot and an export on disk."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from snapexport.cli import handle_errors, main, store_option
from snapexport.errors import EXIT_USAGE, SnapexportError


@main.command()
@store_option
@click.argument("a")
@click.argument("b")
@click.option("--fields", is_flag=True, help="Show field-level changes.")
@click.option("--stat", is_flag=True, help="Counts only.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@click.option("--passphrase", help="The export's passphrase, when B is an encrypted export.")
def diff(
    store_location: str,
    a: str,
    b: str,
    fields: bool,
    stat: bool,
    as_json: bool,
    passphrase: str | None,
) -> None:
    """Show what changed from snapshot A to B (ids, prefixes, latest, latest~N).

    When B is a path to an export (a directory or a zip), compare the export with snapshot A:
    exit 0 when identical, 1 when different, 2 on error.
    """
    from snapexport.store import Store

    try:
        with Store.open(store_location) as store:
            if Path(b).exists() and not _looks_like_id(b):
                from snapexport.verify import compare_export

                view_diff = compare_export(store, a, Path(b), passphrase=passphrase)
                if as_json:
                    click.echo(json.dumps(view_diff.as_json()))
                else:
                    for line in view_diff.render():
                        click.echo(line)
                sys.exit(0 if view_diff.identical else 1)
            from snapexport.catalog import snapshots as snaps
            from snapexport.diff import diff_snapshots, render

            conn = store.catalog.conn
            result = diff_snapshots(conn, snaps.resolve(conn, a), snaps.resolve(conn, b))
        if as_json:
            click.echo(json.dumps(result.as_json(), ensure_ascii=False))
        else:
            for line in render(result, fields=fields, stat=stat):
                click.echo(line)
    except SnapexportError as err:
        click.echo(f"snapexport: error: {err}", err=True)
        sys.exit(EXIT_USAGE if err.exit_code == EXIT_USAGE else 2)


def _looks_like_id(text: str) -> bool:
    return text.startswith("latest") or all(c in "0123456789abcdefABCDEF" for c in text)


__all__ = ["diff", "handle_errors"]
