"""Reading one site file for a snapshot: checksummed streams, whole-file prefetch, stat and open.

A ``FileRef`` is a path in the media folder, or (an export as a source) a member of a zip
with an ``opener`` and a ``stat`` of its own; these helpers read both the same way. A file
whose size or mtime changes while it is read raises ``ChangedWhileRead``: the snapshot
records it as missing instead of storing a torn copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from typing import IO, Any, BinaryIO, Generic, TypeVar

from snapexport.source.base import FileRef

# Below this, hashing a block inline costs less than handing it to the checksum thread.
LANE_MIN = 64 * 1024
# Plain files up to this size are read whole, with their checksum, on the checksum thread
# while the file before them is being stored; larger ones stream in blocks.
PREFETCH_MAX = 16 << 20


class HashingReader:
    """Wraps a file: counts bytes and computes the DB's checksum algorithm on the way.

    With a ``lane`` (an executor with one worker thread), blocks of at least
    ``LANE_MIN`` bytes are hashed there while the caller cuts and BLAKE3-hashes the same
    block for the store: hashlib releases the GIL on large buffers, so the checksum runs on
    the second core. One update is in flight at a time and the next waits for it, so the
    digest sees the blocks in order. ``size`` (the stat size) caps each read at what the file
    should still hold plus one byte, which spares a 16 MiB allocation per small file; a file
    that grew ends one byte past its stat size, which its caller sees.
    """

    def __init__(
        self,
        f: IO[bytes],
        algo: str | None,
        *,
        lane: Executor | None = None,
        size: int | None = None,
    ) -> None:
        self._f = f
        self.digest = hashlib.new(algo) if algo else None
        self.count = 0
        self._lane = lane
        self._size = size
        self._pending: Future[None] | None = None

    def read(self, n: int = -1) -> bytes:
        if self._size is not None:
            left = self._size - self.count + 1
            if left <= 0:
                return b""  # grew past its stat size: the caller reports it as changed
            n = left if n < 0 else min(n, left)
        data = self._f.read(n)
        self.count += len(data)
        if self.digest is not None and data:
            self._wait()
            if self._lane is not None and len(data) >= LANE_MIN:
                self._pending = self._lane.submit(self.digest.update, data)
            else:
                self.digest.update(data)
        return data

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def hexdigest(self) -> str | None:
        """The checksum of everything read (after the last update has finished)."""
        self._wait()
        return self.digest.hexdigest() if self.digest is not None else None

    def close(self) -> None:
        """Wait for an update still running (the reader may be dropped after an error)."""
        with contextlib.suppress(Exception):
            self._wait()


class Digest:
    """A checksum already computed (a prefetched file), read like a ``HashingReader``'s."""

    __slots__ = ("_hex",)

    def __init__(self, hexdigest: str | None) -> None:
        self._hex = hexdigest

    def hexdigest(self) -> str | None:
        return self._hex


# What the snapshot's file reader returns: blob id, bytes read, checksum (maybe running).
Read = tuple[bytes, int, HashingReader | Digest]
# A whole file read ahead: bytes, checksum, stat after reading, and what the caller's
# ``prepare`` made of the bytes (the store's ``Prepared`` for a snapshot; None when not run).
# Generic in that type: this module may not import the store.
P = TypeVar("P")
Slurped = tuple[bytes, str | None, os.stat_result, P | None]
Location = str | os.PathLike[str]
# Files are read ahead in bundles of about this many bytes (and at most this many files):
# one task, one hand-off between threads per bundle instead of per file.
BUNDLE_BYTES = 2 << 20
BUNDLE_FILES = 16


def slurp(
    path: Location,
    size: int,
    algo: str | None,
    prepare: Callable[[bytes], P] | None = None,
) -> Slurped[P]:
    """Read a whole file (at most its stat size plus one byte, which shows growth), its
    checksum, its stat after reading and, with ``prepare``, its chunks and ids when it
    has its stat size; runs on a checksum thread.

    Four system calls, each of which lets another thread take the GIL: open (non-blocking,
    so a FIFO put in a file's place cannot hang the night), read, fstat, close. A buffered
    ``open()`` adds three more (fstat, isatty, lseek), and on a busy interpreter each one is
    a hand-off between threads."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        data = os.read(fd, size + 1)
        if 0 < len(data) < size:  # short of the stat size: read on to the end, if any
            pieces = [data]
            got = len(data)
            while got <= size and (more := os.read(fd, size + 1 - got)):
                pieces.append(more)
                got += len(more)
            data = b"".join(pieces)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    digest = hashlib.new(algo, data).hexdigest() if algo else None
    prepared = prepare(data) if prepare is not None and len(data) == size else None
    return data, digest, after, prepared


class Bundle(Generic[P]):
    """Files read whole on a checksum thread as one task (``slurp`` each, in order).

    ``add`` files until ``full``, then ``start`` the task; ``result(i)`` is file i's
    ``Slurped`` or raises the ``OSError`` reading it raised (the other files are unharmed).
    A bundle not yet started starts when a result is first asked for."""

    __slots__ = ("_executor", "_future", "_prepare", "files", "nbytes")

    def __init__(self, executor: Executor, prepare: Callable[[bytes], P] | None) -> None:
        self._executor = executor
        self._prepare = prepare
        self._future: Future[list[Slurped[P] | OSError]] | None = None
        self.files: list[tuple[Location, int, str | None]] = []
        self.nbytes = 0

    def add(self, path: Location, size: int, algo: str | None) -> int:
        """Queue one file; returns its index for ``result``."""
        self.files.append((path, size, algo))
        self.nbytes += size
        return len(self.files) - 1

    @property
    def full(self) -> bool:
        return self.nbytes >= BUNDLE_BYTES or len(self.files) >= BUNDLE_FILES

    def start(self) -> None:
        if self._future is None:
            self._future = self._executor.submit(_slurp_all, self.files, self._prepare)

    def result(self, i: int) -> Slurped[P]:
        self.start()
        assert self._future is not None
        got = self._future.result()[i]
        if isinstance(got, OSError):
            raise got
        return got


def _slurp_all(
    files: list[tuple[Location, int, str | None]], prepare: Callable[[bytes], P] | None
) -> list[Slurped[P] | OSError]:
    out: list[Slurped[P] | OSError] = []
    for path, size, algo in files:
        try:
            out.append(slurp(path, size, algo, prepare))
        except OSError as err:
            out.append(err)
    return out


class ChangedWhileRead(Exception):
    """The file changed (size or mtime) while it was being read."""


def reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def stat_ref(ref: FileRef) -> os.stat_result:
    stat_fn = getattr(ref, "stat", None)
    if callable(stat_fn):
        return stat_fn()
    st = os.stat(ref.location)
    if not stat.S_ISREG(st.st_mode):
        raise IsADirectoryError(21, "not a regular file", os.fspath(ref.location))
    return st


@contextlib.contextmanager
def open_ref(ref: FileRef) -> Iterator[BinaryIO]:
    opener = getattr(ref, "opener", None)
    if callable(opener):
        with opener() as f:
            yield f
    else:
        with open(ref.abs_path, "rb") as f:
            yield f


def fstat_ref(f: BinaryIO, ref: FileRef) -> os.stat_result:
    try:
        return os.fstat(f.fileno())
    except (OSError, AttributeError, ValueError):
        return stat_ref(ref)
