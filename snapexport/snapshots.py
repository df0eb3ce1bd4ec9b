"""Finding snapshots and reading one: the catalog-backed ``SnapshotView``.

Materialize, diff and check read snapshots only through this view, never through SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from snapexport.catalog import records as spans
from snapexport.catalog import snapshots as snaps
from snapexport.values import MissingFile, SnapshotMeta, StoredFile, StoredRecord


class CatalogView:
    """One committed snapshot, read from a store's catalog and packs."""

    def __init__(self, store: Any, meta: SnapshotMeta) -> None:
        self.store = store
        self.meta = meta
        self._conn = store.catalog.conn

    def records(self, model: str) -> Iterator[StoredRecord]:
        return spans.records_of(self._conn, self.meta.seq, model)

    def files_of(self, owner_model: str, owner_pk: str) -> dict[str, StoredFile]:
        return spans.files_of(self._conn, self.meta.seq, owner_model, owner_pk)

    def files(self) -> Iterator[StoredFile]:
        return spans.files(self._conn, self.meta.seq)

    def missing(self) -> Iterator[MissingFile]:
        return spans.missing(self._conn, self.meta.seq)

    def read(self, f: StoredFile) -> Iterator[bytes]:
        return self.store.read_blob(f.blob)


def open_view(store: Any, spec: str = "latest", *, tag: str | None = None) -> CatalogView:
    """The snapshot a user named (id, unique prefix, ``latest``, ``latest~N``, ``--tag``)."""
    return CatalogView(store, snaps.resolve(store.catalog.conn, spec, tag=tag))


def list_snapshots(store: Any, *, tag: str | None = None) -> list[SnapshotMeta]:
    return snaps.list_snapshots(store.catalog.conn, tag=tag)
