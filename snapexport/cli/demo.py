"""``snapexport demo``: the whole nightly job on the bundled demo site, in one command."""

from __future__ import annotations

import json
from pathlib import Path

import click

from snapexport.cli import handle_errors, main, render


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--documents", type=click.IntRange(1), default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--database",
    metavar="URL",
    envvar="SNAPEXPORT_DEMO_DATABASE",
    help="An empty PostgreSQL or MySQL/MariaDB database for the site's records"
    " (postgresql://USER:PASS@HOST:PORT/NAME, mysql://…; also SNAPEXPORT_DEMO_DATABASE)."
    "  Default: SQLite in FOLDER/site.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def demo(folder: Path, documents: int, seed: int, database: str | None, as_json: bool) -> None:
    """Create a demo site in FOLDER, snapshot it, simulate a night, snapshot again.

    FOLDER/site is a paperless-like Django site (media folder, and its records in SQLite
    or in the --database given the first time) and FOLDER/store its snapshot store. Run
    it again to simulate one more night. Then try
    ``snapexport materialize --store FOLDER/store OUT`` or ``snapexport diff --store
    FOLDER/store latest~1 latest``.
    """
    from snapexport.demo.tour import run_demo
    from snapexport.progress import reporter_for

    run = run_demo(
        folder, documents=documents, seed=seed, database=database, reporter=reporter_for()
    )
    if as_json:
        click.echo(json.dumps(run.as_json()))
        return
    for line in render.demo_lines(run):
        click.echo(line)
