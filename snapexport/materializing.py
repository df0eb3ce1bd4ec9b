"""The ``materialize`` verb: one snapshot of a store written out as ``document_exporter`` would.

``materialize/`` turns a ``SnapshotView`` into an export and knows nothing of stores; this
module opens the store (a shared lock: materialize only reads), resolves the snapshot the
user named, and runs the exporter on its view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapexport.materialize.exporter import materialize
from snapexport.materialize.options import ExportOptions, MaterializeResult, Reporter
from snapexport.snapshots import open_view
from snapexport.store import Store
from snapexport.values import SnapshotMeta


@dataclass(frozen=True, slots=True)
class Materialized:
    """Which snapshot was written, and what the run wrote."""

    snapshot: SnapshotMeta
    result: MaterializeResult

    def as_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "snapshot": self.snapshot.id,
            "path": str(r.path),
            "records": r.records,
            "documents": r.documents,
            "files_written": r.files_written,
            "files_skipped": r.files_skipped,
            "files_deleted": r.files_deleted,
            "bytes_written": r.bytes_written,
            "complete": r.complete,
            "missing": [f"{m.name} ({m.reason})" for m in r.missing],
            "departures": list(r.departures),
            "warnings": list(r.warnings),
        }


def materialize_snapshot(
    store_location: str | Path,
    spec: str,
    target: str | Path,
    options: ExportOptions,
    *,
    tag: str | None = None,
    reporter: Reporter | None = None,
) -> Materialized:
    """Write snapshot ``spec`` (id, prefix, ``latest``, ``latest~N``) into ``target``."""
    with Store.open(store_location) as store:
        view = open_view(store, spec, tag=tag)
        result = materialize(view, Path(target), options, reporter=reporter)
    return Materialized(view.meta, result)
