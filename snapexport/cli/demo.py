"""``snapexport demo``: the whole nightly job on the bundled demo site, in one command."""

from __future__ import annotations

import json
from pathlib import Path

import click

from snapexport.cli import handle_errors, main
from snapexport.errors import UsageError


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--documents", type=click.IntRange(1), default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
@handle_errors
def demo(folder: Path, documents: int, seed: int, as_json: bool) -> None:
    """Create a demo site in FOLDER, snapshot it, simulate a night, snapshot again.

    FOLDER/site is a paperless-like Django site (SQLite database and media folder) and
    FOLDER/store its snapshot store. Run it again to simulate one more night. Then try
    ``snapexport materialize --store FOLDER/store OUT`` or ``snapexport diff --store
    FOLDER/store latest~1 latest``.
    """
    import os

    from snapexport.demo.generate import create_site, simulate_night
    from snapexport.progress import reporter_for
    from snapexport.snapshot import SnapshotResult, take_snapshot
    from snapexport.snapshots import list_snapshots
    from snapexport.source import connect_site
    from snapexport.store import Store

    site, store_path = folder / "site", folder / "store"
    fresh = not site.exists()
    if folder.exists() and fresh and any(folder.iterdir()):
        raise UsageError(f"{folder} is not empty and holds no demo site")
    os.environ["SNAPEXPORT_DEMO_DIR"] = str(site.resolve())
    results: list[tuple[str, SnapshotResult]] = []
    if fresh:
        create_site(site, documents=documents, seed=seed)
        Store.init(store_path).close()
    source = connect_site("snapexport.demo.settings")
    with Store.open(store_path, write=True, append=True) as store:
        if fresh:
            results.append(("first snapshot", take_snapshot(store, source)))
        night = len(list_snapshots(store)) + seed
        simulate_night(site, seed=night)
        results.append(("after one night", take_snapshot(store, source, reporter=reporter_for())))
    if as_json:
        click.echo(json.dumps({name: r.summary() for name, r in results}))
        return
    for name, r in results:
        d = r.documents
        click.echo(
            f"{name}: snapshot {r.meta.short_id}: documents {d['new']} new, {d['changed']}"
            f" changed, {d['removed']} removed, {d['unchanged']} unchanged; files read"
            f" {r.files_read} ({r.bytes_read / 1e6:.2f} MB), skipped {r.files_skipped};"
            f" stored {r.bytes_stored / 1e6:.2f} MB in {r.seconds:.2f}s"
        )
    first, last = results[0][1], results[-1][1]
    if len(results) > 1 and first.bytes_stored:
        share = 100 * last.bytes_stored / first.bytes_stored
        click.echo(f"the night cost {share:.1f}% of the first snapshot's stored bytes")
    click.echo(
        f"next: snapexport materialize --store {store_path} --zip OUT   |"
        f"   snapexport diff --store {store_path} latest~1 latest"
    )
