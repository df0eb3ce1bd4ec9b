"""What a source gives the snapshot builder: sections of rows, their records, their files.

The contract between ``source/`` (the only code that imports Django) and ``snapshot.py``.
A source is opened inside one read transaction (and the site's media lock, if any); the
builder then walks it once, in this order:

1. ``info()`` once: facts materialize needs later without the site.
2. For each model label in ``info().sections``: ``rows(model)`` streams cheap row
   references (pk, fingerprint, sort key) in the exporter's order, computed in bulk without
   the serializer. The builder compares fingerprints with the previous snapshot's and calls
   ``serialize(model, pks)`` only for rows whose fingerprint is new.
3. ``files()`` streams every file the snapshot must hold.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """Facts about the site at snapshot time (stored in ``snapshots.info``)."""

    profile: str  # 'paperless' | 'django'
    sections: tuple[str, ...]  # model labels in the exporter's query order
    site_version: str | None  # paperless: its version string; django: None
    time_zone: str  # the site's TIME_ZONE
    migrations: dict[str, str]  # app label -> name of the latest applied migration
    settings: dict[str, Any] = field(default_factory=dict)  # e.g. AUDIT_LOG_ENABLED


@dataclass(frozen=True, slots=True)
class RowRef:
    """One database row as the fast path sees it, before any serialization."""

    pk: str  # json.dumps of the primary key value
    fingerprint: bytes  # BLAKE3 over raw column values, M2M lists and naming inputs
    sort_key: bytes  # memcmp-ordered encoding of the section's ordering values


@dataclass(frozen=True, slots=True)
class SerializedRecord:
    """A record exactly as the exporter writes it, plus facts materialize needs."""

    pk: str
    text: str  # json.dumps(record, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)
    extra: dict[str, Any] | None = None  # e.g. {"format_name": "..."} for documents


@dataclass(frozen=True, slots=True)
class FileRef:
    """One file the snapshot must hold."""

    path: str  # storage-relative POSIX path (under MEDIA_ROOT / the storage location)
    # Where to read it now. A plain str is enough (and cheaper: no Path per file when tens
    # of thousands are only stat'ed); ``abs_path`` gives it as a Path.
    location: str | os.PathLike[str]
    role: str  # 'original' | 'archive' | 'thumbnail' | 'bundle' | 'file'
    owner_model: str | None = None
    owner_pk: str | None = None
    checksum: str | None = None  # the DB's checksum of this file (hex), when it has one
    checksum_algo: str | None = None  # 'sha256' | 'md5', by the checksum's length
    # For files that are not plain files at location (zip members, files an export lost):
    # ``opener()`` gives the bytes (a context manager), ``stat()`` the size, mtime_ns and
    # mode; either may raise OSError (the builder then records the file as missing).
    opener: Callable[[], BinaryIO] | None = None
    stat: Callable[[], os.stat_result] | None = None
    # The content's id in the target store, when the source already knows it (a snapshot
    # copied between stores that name content alike): a store holding it is not read.
    blob: bytes | None = None

    @property
    def abs_path(self) -> Path:
        """Where to read it now, as a Path."""
        return Path(self.location)


class Source(Protocol):
    """A readable site. Implementations: ``source/paperless.py``, ``source/django.py``."""

    def open(self) -> contextlib.AbstractContextManager[None]:
        """Hold one read transaction (and the site's media lock) for the whole walk."""
        ...

    def info(self) -> SiteInfo: ...

    def rows(self, model: str) -> Iterator[RowRef]: ...

    def serialize(self, model: str, pks: Sequence[str]) -> Iterator[SerializedRecord]:
        """Serialize the given rows (batched, M2M prefetched), in any order."""
        ...

    def files(self) -> Iterator[FileRef]: ...
