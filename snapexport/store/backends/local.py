"""Objects as files under a root folder; ``save`` is a rename on the same file system."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from snapexport.fsutil import atomic_write_bytes, fsync_dir, is_temp_name, private_dir


class LocalBackend:
    """A store folder: each object is one file, written by rename so it appears whole."""

    concurrency = 1  # one fsync at a time keeps the disk streaming

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._root = os.fspath(self.root)  # loads join strings: no Path per chunk read

    def __str__(self) -> str:
        return str(self.root)

    def _path(self, name: str) -> Path:
        return Path(self._file(name))

    def _file(self, name: str) -> str:
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"bad object name {name!r}")
        return f"{self._root}/{name}"

    def _parent(self, target: Path) -> Path:
        parent = target.parent
        if not parent.is_dir():
            private_dir(parent)
            fsync_dir(parent.parent)
        return parent

    def save(self, name: str, local_file: Path) -> None:
        target = self._path(name)
        parent = self._parent(target)
        os.replace(local_file, target)
        fsync_dir(parent)

    def save_bytes(self, name: str, data: bytes) -> None:
        target = self._path(name)
        self._parent(target)
        atomic_write_bytes(target, data)

    def load(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        fd = os.open(self._file(name), os.O_RDONLY | os.O_CLOEXEC)
        try:
            if length is None:
                with open(fd, "rb", buffering=0, closefd=False) as f:
                    f.seek(offset)
                    return f.readall()
            # pread fills the bytes object it returns: one copy out of the page cache, and
            # no second one (a chunk is read and handed on as it is).
            data = os.pread(fd, length, offset)
            if len(data) == length or not data:
                return data
            parts = [data]
            got = len(data)
            while got < length:
                more = os.pread(fd, length - got, offset + got)
                if not more:
                    break
                parts.append(more)
                got += len(more)
            return b"".join(parts)
        finally:
            os.close(fd)

    def list(self, prefix: str) -> Iterator[tuple[str, int]]:
        # Walk only the folder part of the prefix, then filter by the rest. A write in
        # progress (``atomic_writer``'s temporary) is no object yet: an object store does
        # not list an upload before it completes, and neither does this.
        folder, _, _ = prefix.rpartition("/")
        base = self._path(folder) if folder else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for fn in sorted(filenames):
                if is_temp_name(fn):
                    continue
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
