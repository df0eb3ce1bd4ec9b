"""The ``demo`` verb: the whole nightly job on the bundled demo site, in one call.

The first run creates a paperless-like site in ``FOLDER/site`` and a store in
``FOLDER/store`` and snapshots it; every run then simulates one night of changes and
snapshots again, so the second snapshot shows what a night costs.
"""

from __future__ import annotations

import os
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
    folder: Path, *, documents: int = 200, seed: int = 0, reporter: Reporter | None = None
) -> DemoRun:
    """Create the demo (first run) or simulate one more night, and snapshot it."""
    site, store_path = folder / "site", folder / "store"
    fresh = not site.exists()
    if folder.exists() and fresh and any(folder.iterdir()):
        raise RequestError(f"{folder} is not empty and holds no demo site")
    os.environ["SNAPEXPORT_DEMO_DIR"] = str(site.resolve())
    results: list[tuple[str, SnapshotResult]] = []
    if fresh:
        create_site(site, documents=documents, seed=seed)
        Store.init(store_path).close()
    source = connect_site("snapexport.demo.settings")
    with Store.open(store_path, write=True) as store:
        if fresh:
            results.append(("first snapshot", take_snapshot(store, source)))
        night = len(list_snapshots(store)) + seed
        simulate_night(site, seed=night)
        results.append(("after one night", take_snapshot(store, source, reporter=reporter)))
    return DemoRun(tuple(results), store_path)
