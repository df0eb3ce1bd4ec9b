"""Value types that cross module borders: snapshots, stored records and files.

Defined here, below every layer that uses them, so that the catalog, materialize, diff and
prune share one vocabulary without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
