"""Finding snapshots and reading one: the catalog-backed ``SnapshotView``.

Materialize and verify read snapshots only through this view; the SQL behind it lives in
``catalog/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapexport.store import Store
from snapexport.values import MissingFile, SnapshotMeta, StoredFile, StoredRecord


class CatalogView:
    """One committed snapshot, read from a store's catalog and packs."""

    def __init__(self, store: Store, meta: SnapshotMeta) -> None:
        self.store = store
        self.meta = meta
        self._spans = store.catalog.spans

    def records(self, model: str) -> Iterator[StoredRecord]:
        return self._spans.records_of(self.meta.seq, model)

    def files_of(self, owner_model: str, owner_pk: str) -> dict[str, StoredFile]:
        return self._spans.files_of(self.meta.seq, owner_model, owner_pk)

    def files(self) -> Iterator[StoredFile]:
        return self._spans.files(self.meta.seq)

    def missing(self) -> Iterator[MissingFile]:
        return self._spans.missing(self.meta.seq)

    def read(self, f: StoredFile) -> Iterator[bytes]:
        return self.store.read_blob(f.blob)


def open_view(store: Store, spec: str = "latest", *, tag: str | None = None) -> CatalogView:
    """The snapshot a user named (id, unique prefix, ``latest``, ``latest~N``, ``--tag``)."""
    return CatalogView(store, store.catalog.snapshots.resolve(spec, tag=tag))


def list_snapshots(store: Store, *, tag: str | None = None) -> list[SnapshotMeta]:
    return store.catalog.snapshots.all(tag=tag)


@dataclass(frozen=True, slots=True)
class SnapshotList:
    """What ``snapexport snapshots`` lists: the snapshots, oldest commit first."""

    snapshots: tuple[SnapshotMeta, ...]

    def as_json(self) -> list[dict[str, Any]]:
        return [
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
            for m in self.snapshots
        ]


def snapshots_in(store_location: str | Path, *, tag: str | None = None) -> SnapshotList:
    """``snapexport snapshots``: the store's snapshots (only those with ``tag``, if given)."""
    with Store.open(store_location) as store:
        return SnapshotList(tuple(list_snapshots(store, tag=tag)))
