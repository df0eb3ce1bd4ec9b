"""The backend seam: where store objects (packs) live. A local folder now; S3 later.

Names are ``/``-separated relative paths such as ``packs/ab/ab12...``. A backend only moves
opaque bytes; pack encoding, ids and the catalog stay above it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from snapexport.fsutil import fsync_dir


class Backend(Protocol):
    """What the store needs from object storage."""

    def save(self, name: str, local_file: Path) -> None:
        """Make the finished, fsynced ``local_file`` durable under ``name`` (it is consumed)."""
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


class LocalBackend:
    """Objects are files under a root folder; ``save`` is a rename on the same file system."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, name: str) -> Path:
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"bad object name {name!r}")
        return self.root / name

    def save(self, name: str, local_file: Path) -> None:
        target = self._path(name)
        parent = target.parent
        if not parent.is_dir():
            parent.mkdir(parents=True, exist_ok=True)
            fsync_dir(parent.parent)
        os.replace(local_file, target)
        fsync_dir(parent)

    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        with open(self._path(name), "rb", buffering=0) as f:
            if offset:
                f.seek(offset)
            if length is None:
                return f.readall()
            buf = bytearray(length)
            view = memoryview(buf)
            got = 0
            while got < length:
                n = f.readinto(view[got:])
                if not n:
                    break
                got += n
            return bytes(view[:got]) if got < length else bytes(buf)

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        # Walk only the folder part of the prefix, then filter by the rest.
        folder, _, _ = prefix.rpartition("/")
        base = self._path(folder) if folder else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for fn in sorted(filenames):
                name = fn if rel_dir == "." else f"{rel_dir}/{fn}"
                if name.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):
                        yield name, os.stat(os.path.join(dirpath, fn)).st_size

    def remove(self, name: str) -> None:
        path = self._path(name)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            fsync_dir(path.parent)

    def stat(self, name: str) -> int | None:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            return None
