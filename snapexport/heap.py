"""Keeping the process's heap from growing with the amount of data passed through it.

glibc's malloc adjusts two thresholds as a program runs: each time a large mapped buffer is
freed it raises the size above which it maps buffers (up to 32 MiB) and, with it, the free
space it keeps at the top of the heap before giving pages back (twice that). A run that
moves many MiB-sized buffers (read blocks, chunks, compressed chunks) through several
threads therefore keeps an RSS that grows with the bytes moved, not with what it holds.
Setting the mmap threshold once switches that adjustment off for both: the trim threshold
stays at its 128 KiB default, so freed heap is returned. The value chosen, 32 MiB, keeps
read buffers on the heap (mapping each one anew cost a first snapshot of realistic files
8-10% more at 1 MiB). Measured in docs/performance-snapshot.md.
"""

from __future__ import annotations

import ctypes
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD = 32 << 20  # glibc's own upper bound for the dynamic threshold


def bound_heap() -> bool:
    """Fix glibc's mmap threshold (and so its trim threshold); False where that does not
    apply (not Linux, or a C library without ``mallopt``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # the process's own symbols: find_library would run ldconfig (~11 ms per command)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
