"""An existing export's files, whether it is a folder or a zip: names, stats, bytes.

A zip written by the exporter may hold two entries under one name (its stem-collision bug),
so a name maps to a list of members in archive order.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import IO, BinaryIO

from snapexport.exportformat.manifest import MANIFEST, READ_BLOCK, SPLIT_SUFFIX


@dataclass(frozen=True, slots=True)
class Member:
    """One file of an export."""

    name: str  # relative POSIX path inside the export
    size: int
    mtime_ns: int
    mode: int
    abs_path: Path  # the file itself (folder) or ``<zip>/<name>`` (does not exist)
    opener: Callable[[], BinaryIO] | None  # None: read abs_path

    def open(self) -> BinaryIO:
        if self.opener is not None:
            return self.opener()
        return open(self.abs_path, "rb")

    def stat_result(self) -> os.stat_result:
        sec, ns = self.mtime_ns // 1_000_000_000, self.mtime_ns
        ints = (self.mode, 0, 0, 1, 0, 0, self.size, sec, sec, sec)
        return os.stat_result((*ints, ns / 1e9, ns / 1e9, ns / 1e9, ns, ns, ns))


class DirectoryContainer:
    """An export folder."""

    is_zip = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def __enter__(self) -> DirectoryContainer:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def members(self, name: str) -> list[Member]:
        path = self.root / name
        try:
            st = path.stat()
        except OSError:
            return []
        if not stat.S_ISREG(st.st_mode):
            return []
        return [Member(name, st.st_size, st.st_mtime_ns, st.st_mode, path, None)]

    def split_manifests(self) -> list[Member]:
        found = (p.relative_to(self.root).as_posix() for p in self.root.glob(f"**/*{SPLIT_SUFFIX}"))
        return [m for n in sorted(found) if n != MANIFEST for m in self.members(n)]

    @contextlib.contextmanager
    def local_copy(self, name: str) -> Iterator[IO[bytes]]:
        with open(self.root / name, "rb") as f:
            yield f


class ZipContainer:
    """An export zip (read in place; members are streamed, never extracted)."""

    is_zip = True

    def __init__(self, path: Path, time_zone: tzinfo) -> None:
        self.path = path
        self._tz = time_zone
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, list[zipfile.ZipInfo]] = {}

    def __enter__(self) -> ZipContainer:
        self._zip = zipfile.ZipFile(self.path)
        for info in self._zip.infolist():
            if not info.is_dir():
                self._members.setdefault(info.filename, []).append(info)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def members(self, name: str) -> list[Member]:
        return [self._member(info) for info in self._members.get(name, [])]

    def _member(self, info: zipfile.ZipInfo) -> Member:
        mode = info.external_attr >> 16
        if not stat.S_IFMT(mode):
            mode |= stat.S_IFREG | (0 if mode & 0o777 else 0o644)
        moment = datetime(*info.date_time, tzinfo=self._tz)
        mtime_ns = int(moment.timestamp()) * 1_000_000_000
        zf = self._zip
        assert zf is not None

        def opener() -> BinaryIO:
            return zf.open(info)  # type: ignore[return-value]

        return Member(
            info.filename, info.file_size, mtime_ns, mode, self.path / info.filename, opener
        )

    def split_manifests(self) -> list[Member]:
        """Every split manifest entry, duplicates under one name included, in zip order."""
        assert self._zip is not None
        return [
            self._member(info)
            for info in self._zip.infolist()
            if info.filename.endswith(SPLIT_SUFFIX) and info.filename != MANIFEST
        ]

    @contextlib.contextmanager
    def local_copy(self, name: str) -> Iterator[IO[bytes]]:
        """A seekable copy of one member (the manifest) in a temporary file."""
        assert self._zip is not None
        with tempfile.TemporaryFile() as tmp:
            with self._zip.open(self._members[name][-1]) as src:
                shutil.copyfileobj(src, tmp, READ_BLOCK)
            tmp.seek(0)
            yield tmp
