"""What materialize reads: one snapshot's records in export order and its files' bytes.

The catalog-backed implementation lives in ``snapexport/snapshots.py``; materialize never
touches SQL or packs itself, so it runs from any ``SnapshotView``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    """A committed snapshot as listed by ``snapexport snapshots``."""

    id: str  # 64 hex chars
    seq: int
    time: datetime  # aware, UTC
    host: str
    profile: str  # 'paperless' | 'django'
    tags: tuple[str, ...]
    complete: bool
    info: dict[str, Any] = field(default_factory=dict)  # SiteInfo fields (sections, ...)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:8]


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record of a snapshot: the exporter's JSON text for it, plus naming facts."""

    model: str
    pk: str  # JSON encoding of the primary key
    text: str
    extra: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One file of a snapshot."""

    path: str  # storage-relative POSIX path
    role: str  # 'original' | 'archive' | 'thumbnail' | 'bundle' | 'file'
    owner_model: str | None
    owner_pk: str | None
    blob: bytes  # blob id
    size: int
    mtime_ns: int
    mode: int
    checksum: str | None = None


@dataclass(frozen=True, slots=True)
class MissingFile:
    """A file an incomplete snapshot should hold but could not read."""

    path: str
    role: str
    owner_model: str | None
    owner_pk: str | None
    reason: str


class SnapshotView(Protocol):
    """Read access to one snapshot."""

    meta: SnapshotMeta

    def records(self, model: str) -> Iterator[StoredRecord]:
        """The model's records in the exporter's order (empty if the model is absent)."""
        ...

    def files_of(self, owner_model: str, owner_pk: str) -> dict[str, StoredFile]:
        """The files a record owns, by role."""
        ...

    def files(self) -> Iterator[StoredFile]:
        """Every file of the snapshot, ordered by path."""
        ...

    def missing(self) -> Iterator[MissingFile]: ...

    def read(self, f: StoredFile) -> Iterator[bytes]:
        """The file's bytes, streamed in pieces (verified against its blob id)."""
        ...
