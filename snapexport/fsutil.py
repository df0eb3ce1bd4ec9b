"""The one atomic-write helper and small file-system primitives every writer goes through.

A write that must survive a crash goes: temporary name in the same folder, write, fsync the
file, rename over the final name, fsync the folder. A crash at any point leaves either the
old file or the new one, plus at most a ``*.tmp`` that the next run may delete.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

TMP_SUFFIX = ".tmp"
#: store files and folders are their owner's alone, whatever the umask (catalog, packs,
#: locks, keys, catalog copies, the cache): the catalog holds every record and OCR text.
PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def is_temp_name(name: str) -> bool:
    """Whether a file name is an ``atomic_writer`` temporary (``.<name>.<pid>.tmp``)."""
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_filesystem(path: Path) -> None:
    """Make every write to the file system holding ``path`` durable: one ``syncfs`` (Linux)
    instead of an fsync per file; ``sync`` where there is no ``syncfs``."""
    syncfs = _libc("syncfs", ctypes.c_int)
    if syncfs is None:
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(path))
    finally:
        os.close(fd)


@functools.cache
def _libc(name: str, *argtypes: type) -> Callable[..., int] | None:
    """The C library's function ``name`` (int result, errno kept); None where there is none."""
    try:
        fn = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


def drop_cached(fd: int, offset: int = 0, length: int = 0) -> None:
    """Advise the kernel to drop the clean pages of a range of a file (0, 0: all of it) from
    the page cache; Linux also starts writing its dirty ones, without waiting. Advice only:
    where it is missing or refused nothing changes (the caller's fsync or syncfs decides)."""
    if _FADVISE is not None:
        with contextlib.suppress(OSError):
            _FADVISE(fd, offset, length, _DONTNEED)


class WriteBehind:
    """Writes a file being filled to disk as it grows, and drops its pages once they are there.

    Left to itself, Linux keeps every written page dirty in memory until a tenth of memory is
    dirty (2.3 GB on a 23 GB machine), and a backup's gigabytes of packs push everything
    else out of the page cache. A pack writer instead calls ``wrote`` after each write: every
    ``window`` bytes it starts writing the new range (``sync_file_range``, which does not
    wait) and drops what lies before the range started last time (``POSIX_FADV_DONTNEED``;
    pages still being written stay); ``written``, after the caller's fsync, drops the rest.
    borg does the same with its segments. The page cache then holds a few packs' worth of
    pack bytes, not all of them, and the next writes reuse the pages just freed: on a VM
    whose host backs guest memory lazily, copying into fresh pages cost a first snapshot
    9.2 s of CPU, against 2.8 s with a first form of this that waited for each window
    (docs/performance.md). Advice only: where a call
    is missing or fails nothing else changes, and the caller's fsync still makes the file
    durable and reports any write error.
    """

    __slots__ = ("_dropped", "_fd", "_last", "_started", "_window")

    def __init__(self, fd: int, window: int) -> None:
        self._fd = fd
        self._window = window
        self._started = 0  # writeback started for [0, _started)
        self._last = 0  # where the range started last time begins (maybe still in flight)
        self._dropped = 0  # [0, _dropped) advised out of the page cache

    def wrote(self, end: int) -> None:
        """The file now holds ``end`` bytes."""
        if end - self._started < self._window:
            return
        sync_range = _sync_file_range()
        if sync_range is None:
            return
        started, self._started = self._started, end
        if sync_range(self._fd, started, end - started, _SYNC_WRITE) != 0:
            return
        last, self._last = self._last, started
        if last > self._dropped:
            drop_cached(self._fd, self._dropped, last - self._dropped)
            self._dropped = last

    def written(self) -> None:
        """The whole file is on disk (the caller's fsync returned): drop all of it."""
        drop_cached(self._fd)


_SYNC_WRITE = 2  # sync_file_range: start writing the range, do not wait for it
_FADVISE = getattr(os, "posix_fadvise", None)
_DONTNEED = getattr(os, "POSIX_FADV_DONTNEED", 4)


def _sync_file_range() -> Callable[..., int] | None:
    if _FADVISE is None:  # not Linux-like: nothing to advise
        return None
    return _libc("sync_file_range", ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)


def private_dir(path: Path) -> Path:
    """Make folder ``path`` (and missing parents) with mode 0700 whatever the umask; an
    existing folder is left as it is. Returns ``path``."""
    path = Path(path)
    if path.is_dir():
        return path
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue
        os.chmod(folder, PRIVATE_DIR)  # the umask may have taken bits from mkdir's mode
    return path


def create_private(path: Path, flags: int = os.O_WRONLY | os.O_EXCL) -> int:
    """Create file ``path`` with mode 0600 whatever the umask; returns the open descriptor."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def touch_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (so that SQLite, which gives a
    database's WAL files the database's mode, keeps all three private)."""
    with contextlib.suppress(FileExistsError):
        os.close(create_private(path))


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = PRIVATE_FILE) -> Iterator[BinaryIO]:
    """Open a temporary sibling of ``path`` for writing; on clean exit make it ``path``.

    On any exception (including KeyboardInterrupt) the temporary file is removed and
    ``path`` is untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
    except BaseException:
        os.close(fd)
        raise
    f = os.fdopen(fd, "wb")
    try:
        yield f
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        f.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = PRIVATE_FILE) -> None:
    """Write ``data`` to ``path`` atomically and durably."""
    with atomic_writer(path, mode=mode) as f:
        f.write(data)
