"""Keeping the process's heap from growing with the amount of data passed through it.

glibc's malloc raises its mmap threshold each time a large mmapped block is freed (up to
32 MiB), after which buffers of that size come from the heap and freed heap pages are rarely
given back: a run that moves many MiB-sized buffers (read blocks, chunks, compressed chunks)
through several threads keeps an RSS that grows with the bytes moved, not with what it holds.
A fixed threshold serves every buffer of 1 MiB or more with its own mapping, returned to the
system when freed. Measured in docs/performance-snapshot.md: peak RSS of a first snapshot
of 20,000 demo documents fell from 1.28x to 1.1x that of 2,000 documents.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 1 << 20


def bound_heap() -> bool:
    """Fix glibc's mmap threshold at 1 MiB; returns False where that does not apply."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
