"""The backend seam: where store objects live (a local folder, or S3-compatible storage).

Names are ``/``-separated relative paths such as ``packs/ab/ab12...``. A backend only moves
opaque bytes; pack encoding, encryption, ids and the catalog stay above it. Objects are
written once under their final name and never rewritten (locks and catalog copies get new
names each time), so append-only and object-lock buckets work for snapshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from snapexport.store.backends.local import LocalBackend
from snapexport.store.location import StoreLocation

__all__ = ["Backend", "LocalBackend", "open_backend"]


class Backend(Protocol):
    """What the store needs from object storage."""

    #: how many ``save`` calls the store may run at once (uploads in flight)
    concurrency: int

    def save(self, name: str, local_file: Path) -> None:
        """Make the finished, fsynced ``local_file`` durable under ``name`` (it is consumed)."""
        ...

    def save_bytes(self, name: str, data: bytes) -> None:
        """Make the small object ``data`` durable under ``name`` in one step."""
        ...

    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes of ``name`` from ``offset``: ``length`` bytes, or to the end. FileNotFoundError
        when the object does not exist; fewer bytes than asked when it is shorter."""
        ...

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(name, size) of every object whose name starts with ``prefix``."""
        ...

    def remove(self, name: str) -> None:
        """Delete ``name``; no error when it is already gone."""
        ...

    def stat(self, name: str) -> int | None:
        """Size of ``name`` in bytes, or None when it does not exist."""
        ...


def open_backend(location: StoreLocation) -> Backend:
    """The backend for a parsed location (the S3 client is imported only when needed)."""
    if location.path is not None:
        return LocalBackend(location.path)
    from snapexport.store.backends.s3 import S3Backend

    return S3Backend.from_location(location)
