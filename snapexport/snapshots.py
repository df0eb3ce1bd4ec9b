"""Finding snapshots and reading one: the catalog-backed ``SnapshotView``.

Materialize and verify read snapshots only through this view; the SQL behind it lives in
``catalog/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from snapexport.values import MissingFile, SnapshotMeta, StoredFile, StoredRecord

if TYPE_CHECKING:
    from snapexport.store import Store


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
