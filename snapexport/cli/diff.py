"""``snapexport diff``: between two snapshots, or a snapshot and an export on disk."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from snapexport.cli import handle_errors, main, store_option
from snapexport.errors import UsageError

EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_FAILED = 2

DIFF_EXIT_CODES = """\b
Exit codes (snapshot against an export):
  0  identical
  1  different
  2  error (unknown snapshot, not an export, unreadable files)
Between two snapshots: 0, or 2 on error."""


@main.command(epilog=DIFF_EXIT_CODES)
@store_option
@click.argument("a")
@click.argument("b")
@click.option("--tag", help="Count only snapshots with this tag for latest and latest~N.")
@click.option("--fields", is_flag=True, help="Show field-level changes.")
@click.option("--stat", is_flag=True, help="Counts only.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@click.option("--passphrase", help="The export's passphrase, when B is an encrypted export.")
@handle_errors(failure_code=EXIT_FAILED)
def diff(
    store_location: str,
    a: str,
    b: str,
    tag: str | None,
    fields: bool,
    stat: bool,
    as_json: bool,
    passphrase: str | None,
) -> None:
    """Show what changed from snapshot A to B (ids, prefixes, latest, latest~N).

    When B is the path of an export (a folder or a zip made by document_exporter or by
    materialize), compare that export with snapshot A instead: missing, extra and
    different files and manifest records.
    """
    from snapexport.store import Store

    with Store.open(store_location) as store:
        if _is_export(b):
            from snapexport.verify import compare_export

            comparison = compare_export(store, a, Path(b), passphrase=passphrase, tag=tag)
            if as_json:
                click.echo(json.dumps(comparison.as_json(), ensure_ascii=False))
            else:
                for line in comparison.render():
                    click.echo(line)
            sys.exit(EXIT_SAME if comparison.identical else EXIT_DIFFERENT)
        if not _looks_like_id(b):
            raise UsageError(f"{b!r} is neither a snapshot nor an export folder or zip")
        from snapexport.diff import diff_snapshots, render

        snapshots = store.catalog.snapshots
        result = diff_snapshots(
            store.catalog.changes,
            snapshots.resolve(a, tag=tag),
            snapshots.resolve(b, tag=tag),
        )
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        for line in render(result, fields=fields, stat=stat):
            click.echo(line)


def _is_export(text: str) -> bool:
    """A path that exists, unless it is also spelled like a snapshot id (then ``./id``)."""
    path = Path(text)
    if not path.exists():
        return False
    return not _looks_like_id(text) or "/" in text or path.suffix == ".zip"


def _looks_like_id(text: str) -> bool:
    return text.startswith("latest") or all(c in "0123456789abcdefABCDEF" for c in text)


__all__ = ["diff"]
