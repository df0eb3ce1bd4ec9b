"""A pack being filled goes to disk as it grows and leaves the page cache behind it.

Residency is read with ``mincore`` on a mapping of the file: the kernel's own answer to
which pages of it are in memory.
"""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

import pytest

from snapexport import fsutil
from snapexport.store import packs

MIB = 1 << 20
PAGE = mmap.PAGESIZE


def resident(path: Path, start: int, end: int) -> float:
    """The share of ``path``'s pages in ``[start, end)`` that are in the page cache."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as mm:
        vec = ctypes.create_string_buffer((len(mm) + PAGE - 1) // PAGE)
        first = ctypes.c_char.from_buffer(mm)  # the mapping's address; nothing is written
        try:
            if libc.mincore(ctypes.addressof(first), len(mm), vec) != 0:
                raise OSError(ctypes.get_errno(), "mincore", str(path))
        finally:
            del first  # the mapping cannot close while a ctypes object points into it
        flags = vec.raw[start // PAGE : (end + PAGE - 1) // PAGE]
    return sum(b & 1 for b in flags) / max(1, len(flags))


def drops_written_pages(folder: Path) -> bool:
    """Whether this file system drops a file's clean pages on advice (tmpfs does not)."""
    probe = folder / "probe"
    probe.write_bytes(os.urandom(MIB))
    fd = os.open(probe, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    dropped = resident(probe, 0, MIB) < 0.5
    probe.unlink()
    return dropped


def test_a_written_pack_leaves_the_page_cache(tmp_path: Path) -> None:
    if not drops_written_pages(tmp_path):  # tmpfs: its pages are the file
        pytest.skip(f"{tmp_path}: this file system keeps pages on POSIX_FADV_DONTNEED")
    writer = packs.PackWriter(tmp_path)
    payload = os.urandom(MIB)
    for i in range(6 * packs.WRITE_BEHIND // MIB):
        writer.add(i.to_bytes(32, "little"), 0, MIB, payload)
    done = writer.finish()
    # on disk and out of memory (but the pages the windows' edges cut: the kernel drops
    # whole pages only), while nothing is lost on the way
    assert resident(done.path, 0, done.size) < 0.01
    data = done.path.read_bytes()
    assert len(data) == done.size
    assert packs.pack_id_of_bytes(data) == done.id


def test_plain_writes_stay_in_memory_as_a_control(tmp_path: Path) -> None:
    """Without the advice the same bytes stay cached after an fsync: the test above
    measures the advice."""
    path = tmp_path / "plain"
    with open(path, "wb") as f:
        for _ in range(6 * packs.WRITE_BEHIND // MIB):
            f.write(os.urandom(MIB))
        f.flush()
        os.fsync(f.fileno())
    assert resident(path, 0, path.stat().st_size) > 0.9


def test_a_file_that_refuses_the_advice_is_written_whole(tmp_path: Path) -> None:
    """A pipe has no page cache: ``sync_file_range`` fails on it (so nothing is dropped),
    and every byte still arrives."""
    read_fd, write_fd = os.pipe()
    behind = fsutil.WriteBehind(write_fd, 64 * 1024)
    got = bytearray()
    try:
        for i in range(1, 4):
            os.write(write_fd, b"x" * 64 * 1024)
            behind.wrote(i * 64 * 1024)
            got += os.read(read_fd, 64 * 1024)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert got == b"x" * 3 * 64 * 1024
