"""``snapexport diff``: between two snapshots, or a snapshot and an export on disk."""

from __future__ import annotations

import json
import sys

import click

from snapexport.cli import handle_errors, main, store_option

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
    from snapexport.diff import render
    from snapexport.difftarget import run_diff

    outcome = run_diff(store_location, a, b, tag=tag, passphrase=passphrase)
    if as_json:
        click.echo(json.dumps(outcome.as_json(), ensure_ascii=False))
    elif outcome.export is not None:
        for line in outcome.export.render():
            click.echo(line)
    else:
        assert outcome.snapshots is not None
        for line in render(outcome.snapshots, fields=fields, stat=stat):
            click.echo(line)
    if outcome.export is not None:
        sys.exit(EXIT_SAME if outcome.export.identical else EXIT_DIFFERENT)


__all__ = ["diff"]
