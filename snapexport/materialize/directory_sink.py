"""The directory sink: loose files in TARGET, re-runs copy only what changed.

Skip rule for files already present (the exporter's): with ``-c`` originals and archives are
recopied when the sha256 (md5 for 1.x/2.x checksums) of the target differs from the
recorded checksum; otherwise (and always for thumbnails and bundles) when size or mtime
differ. JSON files are always rewritten unless ``-cj`` finds their bytes unchanged.
Document files are written on ``WRITERS`` threads, a few files behind the caller
(``WRITES_AHEAD``, ``BYTES_AHEAD``): each thread loads, verifies and writes one file at a
time (``loads_itself``: from a local store its chunks are loaded on that thread, with no
hand-off per chunk), so loading, hashing, writing and renaming (calls that release the
GIL) run on both cores while the caller plans the next files. Results are taken in the
order the files were given. A failed write surfaces at the caller's next call (or when the
manifest is committed), named by the ``describe`` the caller gave for that file; the
manifest is committed only after every file before it is written and the file system
synced (``syncfs``), so a ``manifest.json`` present after a crash vouches for every file
it names. Each file's writeback is started as soon as it is written (``_start_writeback``),
so that sync has little left.
``manifest.json`` goes through ``manifest.json.tmp`` and a rename. ``-d`` deletes, after
a successful run, every file under TARGET this run did not write or keep, then the folders
left empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from snapexport.errors import SnapexportError
from snapexport.exportformat.manifest import MANIFEST
from snapexport.faults import checkpoint
from snapexport.fsutil import drop_cached, fsync_dir, sync_filesystem
from snapexport.materialize.sinks import Chunks, Describe, SinkCounts
from snapexport.values import StoredFile

_READ = 1 << 20
_TMP = ".snapexport-{pid}.tmp"  # JSON files, written by the caller's thread
_WRITER_TMP = ".snapexport-{pid}.w{thread}.tmp"  # document files, by each writer thread
# (a run of an earlier version, with one writer thread, left ``.snapexport-<pid>.w.tmp``)
_LEFTOVER = re.compile(r"\.snapexport-(\d+)(?:\.w\d*)?\.tmp")
_MANIFEST_TMP = "manifest.json.tmp"
# Files queued for the writer threads. From a local store a queued file holds only where its
# chunks are; from object storage its stream is already loading its first chunks, so the
# queue is bounded by files and by their bytes too (on top of the exporter's read-ahead,
# LOOKAHEAD_BYTES). 10,000 documents, 7.1 GB: 8 files and 4 MiB left the writer idle for
# 40% of the run while the caller waited for room 30% of it (py-spy).
WRITERS = 2
WRITES_AHEAD = 32
BYTES_AHEAD = 16 << 20


class DirectorySink:
    """Writes the export as files under ``target``."""

    loads_itself = True  # its writer threads read the streams (sinks.py)

    def __init__(
        self, target: Path, *, compare_checksums: bool, compare_json: bool, delete: bool
    ) -> None:
        self.target = target
        # Per-file paths are plain strings: a Path per file costs parsing and formatting
        # on the GIL, and pathlib interns every new file name.
        self._root = os.fspath(target)
        self._compare_checksums = compare_checksums
        self._compare_json = compare_json
        self._delete = delete
        self._existing: set[str] = set()  # files present at the start, not yet claimed
        self._folders: set[str] = set()  # folders known to exist (a few per export)
        self._tmp_name = _TMP.format(pid=os.getpid())
        self._writer_tmp = threading.local()  # each writer thread's temp name
        self.counts = SinkCounts()
        self._writer: ThreadPoolExecutor | None = None
        self._writes: deque[tuple[Future[int], int, Describe | None]] = deque()
        self._queued_bytes = 0

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
        if exc_type is not None:
            # Another failure: the files queued before it are still written whole (a rerun
            # keeps them); an interrupt stops at once.
            if not isinstance(exc, KeyboardInterrupt):
                with contextlib.suppress(Exception):
                    self.drain()
            self._stop_writer()
            return
        self.drain()
        self._stop_writer()
        if self._delete:
            self._delete_unclaimed()

    def will_read(self, arcname: str) -> bool:
        """Whether ``add_file`` will surely read this file's bytes (no file of that name was
        here at the start to be kept as unchanged): the exporter reads only those ahead."""
        return arcname not in self._existing

    def add_file(
        self,
        arcname: str,
        stored: StoredFile,
        chunks: Chunks,
        *,
        checksum: str | None,
        describe: Describe | None = None,
    ) -> None:
        self._collect(wait=False)
        dest = os.path.join(self._root, arcname)
        if arcname in self._existing:
            self._existing.discard(arcname)
            if os.path.isfile(dest) and self._unchanged(dest, stored, checksum):
                self.counts.files_skipped += 1
                return
        self._make_folder(os.path.dirname(dest))
        while self._writes and (
            len(self._writes) >= WRITES_AHEAD or self._queued_bytes + stored.size > BYTES_AHEAD
        ):
            self._collect_one()
        # the stream is taken here, on the caller's thread (a stream opened ahead for this
        # file is then this write's, not the caller's to close), and read on the writer's
        stream = chunks()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="write")
        future = self._writer.submit(self._write_file, dest, stored, stream)
        self._writes.append((future, stored.size, describe))
        self._queued_bytes += stored.size

    def drain(self) -> None:
        """Wait for every queued file; raise the first failure."""
        self._collect(wait=True)

    def _collect(self, *, wait: bool) -> None:
        while self._writes and (wait or self._writes[0][0].done()):
            self._collect_one()

    def _collect_one(self) -> None:
        future, size, describe = self._writes.popleft()
        self._queued_bytes -= size
        try:
            written = future.result()
        except (SnapexportError, OSError) as err:
            self._stop_writer()
            if describe is None:
                raise
            raise describe(err) from err
        except BaseException:
            self._stop_writer()
            raise
        self.counts.files_written += 1
        self.counts.bytes_written += written

    def _stop_writer(self) -> None:
        """Drop the queued writes (the one running finishes or removes its temp file)."""
        for future, _, _ in self._writes:
            future.cancel()
        self._writes.clear()
        self._queued_bytes = 0
        if self._writer is not None:
            self._writer.shutdown(wait=True, cancel_futures=True)
            self._writer = None

    def _write_file(self, dest: str, stored: StoredFile, stream: Iterator[bytes]) -> int:
        """Write one file under its temp name, date it, rename it; on a writer thread."""
        name: str | None = getattr(self._writer_tmp, "name", None)
        if name is None:  # one file at a time per thread: a name of its own
            name = _WRITER_TMP.format(pid=os.getpid(), thread=threading.get_native_id())
            self._writer_tmp.name = name
        tmp = os.path.join(os.path.dirname(dest), name)
        written = 0
        try:
            # os-level calls: a file object would add an fstat, an lseek and an ioctl per
            # file, and the chunks are large enough to need no buffer.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, _CREATE_MODE)
            try:
                for chunk in stream:
                    _write_all(fd, chunk)
                    written += len(chunk)
                    checkpoint("materialize:in-file")
                mode = stored.mode & 0o7777
                if mode and mode != _CREATED_MODE:
                    os.fchmod(fd, mode)
                # atime is not recorded in a snapshot: the mtime stands in for it.
                os.utime(fd, ns=(stored.mtime_ns, stored.mtime_ns))
                _start_writeback(fd)
            finally:
                os.close(fd)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            close = getattr(stream, "close", None)
            if callable(close):
                close()
            raise
        return written

    def _make_folder(self, folder: str) -> None:
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)

    def _unchanged(self, dest: str, stored: StoredFile, checksum: str | None) -> bool:
        if self._compare_checksums and checksum:
            algo = "md5" if len(checksum) == 32 else "sha256"
            return _digest(dest, algo) == checksum.lower()
        st = os.stat(dest)
        return st.st_size == stored.size and st.st_mtime_ns == stored.mtime_ns

    def add_json(self, arcname: str, data: bytes) -> None:
        dest = self.target / arcname
        existed = arcname in self._existing
        self._existing.discard(arcname)
        if existed and self._compare_json and _same_bytes(dest, data):
            self.counts.files_skipped += 1
            return
        self._make_folder(os.fspath(dest.parent))
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
            # The manifest names files: it is committed after all of them (a file that
            # failed behind the caller surfaces here), durable: one sync of the target's
            # file system, not an fsync per file.
            self.drain()
            sync_filesystem(self.target)
            unchanged = existed and self._compare_json and _same_files(dest, tmp)
            if not unchanged:
                os.replace(tmp, dest)
        except BaseException:
            out.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if unchanged:
            os.unlink(tmp)
            self.counts.files_skipped += 1
            return
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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_CREATE_MODE = 0o666
# What a new file's mode is after the umask; a file recorded with it needs no fchmod. The
# umask is read once, at import, before any thread of ours starts.
_CREATED_MODE = _CREATE_MODE & ~_umask()


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


def _start_writeback(fd: int) -> None:
    """Have the kernel start writing a finished file's pages to disk, without waiting.

    Linux's ``POSIX_FADV_DONTNEED`` starts writeback of a file's dirty pages (and drops
    the clean ones). Left to itself, the kernel starts only when a tenth of memory is dirty
    (2.3 GB here), then throttles the writers and leaves the rest to the final ``syncfs``;
    started per file, the disk writes from the first file on, beside the reads of the packs.
    Advice only: where it is missing or refused, the final ``syncfs`` does it all.
    """
    drop_cached(fd)


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


def _digest(path: str, algo: str) -> str:
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
