"""The ``demo`` verb: the whole nightly job on the bundled demo site, in one call.

The first run creates a paperless-like site in ``FOLDER/site`` and a store in
``FOLDER/store`` and snapshots it; every run then simulates one night of changes and
snapshots again, so the second snapshot shows what a night costs.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapexport.demo.generate import create_site, simulate_night
from snapexport.errors import RequestError
from snapexport.progress import Reporter
from snapexport.snapshot import SnapshotResult, take_snapshot
from snapexport.snapshots import list_snapshots
from snapexport.source import connect_site
from snapexport.store import Store


@dataclass(frozen=True, slots=True)
class DemoRun:
    """The snapshots one demo run took, by name, and where its store is."""

    results: tuple[tuple[str, SnapshotResult], ...]
    store: Path

    def as_json(self) -> dict[str, Any]:
        return {name: r.summary() for name, r in self.results}


def run_demo(
    folder: Path,
    *,
    documents: int = 200,
    seed: int = 0,
    database: str | None = None,
    reporter: Reporter | None = None,
) -> DemoRun:
    """Create the demo (first run) or simulate one more night, and snapshot it.

    ``database``: the URL of an empty PostgreSQL or MySQL/MariaDB database for a new
    site's records (None: SQLite in the site folder); a site keeps the one it was made with.
    """
    site, store_path = folder / "site", folder / "store"
    fresh = not site.exists()
    if folder.exists() and fresh and any(folder.iterdir()):
        raise RequestError(f"{folder} is not empty and holds no demo site")
    os.environ["SNAPEXPORT_DEMO_DIR"] = str(site.resolve())
    results: list[tuple[str, SnapshotResult]] = []
    if not fresh and database and not (site / "database.url").is_file():
        raise RequestError(f"{site} keeps its records in SQLite; --database applies to new sites")
    if fresh:
        try:
            create_site(site, documents=documents, seed=seed, database=database)
        except BaseException:
            shutil.rmtree(site, ignore_errors=True)  # no half-made site to trip the next run
            raise
        Store.init(store_path).close()
    source = connect_site("snapexport.demo.settings")
    with Store.open(store_path, write=True, append=True) as store:
        if fresh:
            results.append(("first snapshot", take_snapshot(store, source)))
        night = len(list_snapshots(store)) + seed
        simulate_night(site, seed=night)
        results.append(("after one night", take_snapshot(store, source, reporter=reporter)))
    return DemoRun(tuple(results), store_path)
