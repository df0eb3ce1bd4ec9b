"""What materialize reads: one snapshot's records in export order and its files' bytes.

The catalog-backed implementation lives in ``snapexport/snapshots.py``; materialize never
touches SQL or packs itself, so it runs from any ``SnapshotView``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from snapexport.values import MissingFile, SnapshotMeta, StoredFile, StoredRecord

__all__ = ["MissingFile", "SnapshotMeta", "SnapshotView", "StoredFile", "StoredRecord"]


class SnapshotView(Protocol):
    """Read access to one snapshot."""

    meta: SnapshotMeta

    def records(self, model: str) -> Iterator[StoredRecord]:
        """The model's records in the exporter's order (empty if the model is absent)."""
        ...

    def files_of(self, owner_model: str, owner_pk: str) -> dict[str, StoredFile]:
        """The files a record owns, by role."""
        ...

    def files_of_many(
        self, owner_model: str, owner_pks: Sequence[str]
    ) -> dict[str, dict[str, StoredFile]]:
        """The files each of these records owns, by role (records without files may be
        absent): what ``files_of`` answers for each, asked once for a batch. The view may
        get ready to ``read`` these files (the last batch's) without asking again."""
        ...

    def files(self) -> Iterator[StoredFile]:
        """Every file of the snapshot, ordered by path."""
        ...

    def missing(self) -> Iterator[MissingFile]: ...

    def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
        """The file's bytes, streamed in pieces (verified against its blob id); loaded
        ahead on the store's threads, or (``ahead=False``) on the thread that reads them
        where the store can."""
        ...
