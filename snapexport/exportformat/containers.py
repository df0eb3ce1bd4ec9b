"""An existing export's files, whether it is a folder or a zip: names, stats, bytes.

A zip written by the exporter may hold two entries under one name (its stem-collision bug),
so a name maps to a list of members in archive order. ``open_container`` opens either kind
and checks that it is an export (it has a manifest.json); ``read_metadata`` reads its
metadata.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import IO, Any, BinaryIO

from snapexport.exportformat.manifest import MANIFEST, METADATA, READ_BLOCK, SPLIT_SUFFIX


class ContainerError(ValueError):
    """The path is not a readable export (callers turn this into their own error)."""


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

    def names(self) -> Iterator[str]:
        """Every file's name, folder by folder in sorted order."""
        for folder, dirs, files in os.walk(self.root):
            dirs.sort()
            rel = Path(folder).relative_to(self.root)
            for name in sorted(files):
                yield (rel / name).as_posix()

    def has_folder(self, name: str) -> bool:
        return (self.root / name).is_dir()

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

    def names(self) -> Iterator[str]:
        """Every file entry's name once, in archive order."""
        yield from self._members

    def has_folder(self, name: str) -> bool:
        prefix = name.rstrip("/") + "/"
        return any(n.startswith(prefix) for n in self._members)

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


Container = DirectoryContainer | ZipContainer


@contextlib.contextmanager
def open_container(path: Path, time_zone: tzinfo = UTC) -> Iterator[Container]:
    """The export at ``path`` (a folder or a zip), open; ``time_zone`` dates zip entries.

    Raises ContainerError when ``path`` does not exist, is neither a folder nor a zip
    file, cannot be read, or holds no manifest.json.
    """
    path = Path(path)
    container: Container
    if path.is_dir():
        container = DirectoryContainer(path)
    elif path.is_file():
        if not zipfile.is_zipfile(path):
            raise ContainerError(f"{path} is neither an export folder nor a zip file")
        container = ZipContainer(path, time_zone)
    else:
        raise ContainerError(f"{path}: no such file or folder")
    try:
        container.__enter__()
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ContainerError(f"{path}: not a readable export ({err})") from err
    try:
        if not container.members(MANIFEST):
            raise ContainerError(f"{path}: no manifest.json, not an export")
        yield container
    finally:
        container.__exit__(None, None, None)


def read_metadata(container: Container) -> dict[str, Any]:
    """The export's metadata.json (``{}`` when it has none)."""
    members = container.members(METADATA)
    if not members:
        return {}
    try:
        with members[-1].open() as f:
            data = json.loads(f.read())
    except (OSError, ValueError) as err:
        raise ContainerError(f"{METADATA} is not readable JSON ({err})") from err
    return data if isinstance(data, dict) else {}
