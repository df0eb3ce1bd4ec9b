"""The directory sink: loose files in TARGET, re-runs copy only what changed.

Skip rule for files already present (the exporter's): with ``-c`` originals and archives are
recopied when the sha256 (md5 for 1.x/2.x checksums) of the target differs from the
recorded checksum; otherwise (and always for thumbnails and bundles) when size or mtime
differ. JSON files are always rewritten unless ``-cj`` finds their bytes unchanged.
``manifest.json`` goes through ``manifest.json.tmp`` and a rename. ``-d`` deletes, after
a successful run, every file under TARGET this run did not write or keep, then the folders
left empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from snapexport.exportformat.manifest import MANIFEST
from snapexport.faults import checkpoint
from snapexport.fsutil import fsync_dir
from snapexport.materialize.sinks import Chunks, SinkCounts
from snapexport.values import StoredFile

_READ = 1 << 20
_TMP = ".snapexport-{pid}.tmp"
_LEFTOVER = re.compile(r"\.snapexport-(\d+)\.tmp")
_MANIFEST_TMP = "manifest.json.tmp"


class DirectorySink:
    """Writes the export as files under ``target``."""

    def __init__(
        self, target: Path, *, compare_checksums: bool, compare_json: bool, delete: bool
    ) -> None:
        self.target = target
        self._compare_checksums = compare_checksums
        self._compare_json = compare_json
        self._delete = delete
        self._existing: set[str] = set()  # files present at the start, not yet claimed
        self._folders: set[Path] = set()  # folders known to exist (a few per export)
        self._tmp_name = _TMP.format(pid=os.getpid())
        self.counts = SinkCounts()

    def __enter__(self) -> DirectorySink:
        for path in self.target.glob("**/*"):
            if not path.is_file():
                continue
            if _leftover(path, self.target):
                # A file a killed run was writing: never part of an export.
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            self._existing.add(path.relative_to(self.target).as_posix())
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None and self._delete:
            self._delete_unclaimed()

    def will_read(self, arcname: str) -> bool:
        """Whether ``add_file`` will surely read this file's bytes (no file of that name was
        here at the start to be kept as unchanged): the exporter reads only those ahead."""
        return arcname not in self._existing

    def add_file(
        self, arcname: str, stored: StoredFile, chunks: Chunks, *, checksum: str | None
    ) -> None:
        dest = self.target / arcname
        if arcname in self._existing:
            self._existing.discard(arcname)
            if dest.is_file() and self._unchanged(dest, stored, checksum):
                self.counts.files_skipped += 1
                return
        self._make_folder(dest.parent)
        tmp = dest.parent / self._tmp_name
        try:
            # os-level calls: a file object would add an fstat, an lseek and an ioctl per
            # file, and the chunks are large enough to need no buffer.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
            try:
                for chunk in chunks():
                    _write_all(fd, chunk)
                    self.counts.bytes_written += len(chunk)
                    checkpoint("materialize:in-file")
                if stored.mode & 0o7777:
                    os.fchmod(fd, stored.mode & 0o7777)
                # atime is not recorded in a snapshot: the mtime stands in for it.
                os.utime(fd, ns=(stored.mtime_ns, stored.mtime_ns))
            finally:
                os.close(fd)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self.counts.files_written += 1

    def _make_folder(self, folder: Path) -> None:
        if folder not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder)

    def _unchanged(self, dest: Path, stored: StoredFile, checksum: str | None) -> bool:
        if self._compare_checksums and checksum:
            algo = "md5" if len(checksum) == 32 else "sha256"
            return _digest(dest, algo) == checksum.lower()
        st = dest.stat()
        return st.st_size == stored.size and st.st_mtime_ns == stored.mtime_ns

    def add_json(self, arcname: str, data: bytes) -> None:
        dest = self.target / arcname
        existed = arcname in self._existing
        self._existing.discard(arcname)
        if existed and self._compare_json and _same_bytes(dest, data):
            self.counts.files_skipped += 1
            return
        self._make_folder(dest.parent)
        tmp = dest.parent / self._tmp_name
        try:
            tmp.write_bytes(data)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self.counts.files_written += 1
        self.counts.bytes_written += len(data)

    @contextlib.contextmanager
    def manifest(self) -> Iterator[BinaryIO]:
        dest = self.target / MANIFEST
        tmp = self.target / _MANIFEST_TMP
        existed = MANIFEST in self._existing
        self._existing.discard(MANIFEST)
        out = open(tmp, "wb")  # noqa: SIM115 - closed on every path below
        try:
            yield out
            out.flush()
            os.fsync(out.fileno())
            size = out.tell()
            out.close()
        except BaseException:
            out.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if existed and self._compare_json and _same_files(dest, tmp):
            os.unlink(tmp)
            self.counts.files_skipped += 1
            return
        os.replace(tmp, dest)
        fsync_dir(self.target)
        self.counts.files_written += 1
        self.counts.bytes_written += size

    def _delete_unclaimed(self) -> None:
        for rel in sorted(self._existing):
            path = self.target / rel
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                self.counts.files_deleted += 1
            _remove_empty_parents(path.parent, self.target)
        self._existing.clear()


def _leftover(path: Path, target: Path) -> bool:
    """Whether ``path`` is a temporary file of a materialize run that is no longer running
    (``.snapexport-<pid>.tmp`` of a dead process, or TARGET's ``manifest.json.tmp``)."""
    if path.name == _MANIFEST_TMP and path.parent == target:
        return True
    m = _LEFTOVER.fullmatch(path.name)
    if m is None:
        return False
    pid = int(m.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False  # a run into the same folder is going on right now: leave its file


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written < len(data):  # a short write (a signal, a full disk on the next call)
        view = memoryview(data)
        while written < len(data):
            written += os.write(fd, view[written:])


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        while block := f.read(_READ):
            h.update(block)
    return h.hexdigest()


def _same_bytes(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _same_files(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                x, y = fa.read(_READ), fb.read(_READ)
                if x != y:
                    return False
                if not x:
                    return True
    except OSError:
        return False
