"""Keeping the process's heap from growing with the amount of data passed through it.

glibc's malloc adjusts two thresholds as a program runs: each time a large mapped buffer is
freed it raises the size above which it maps buffers (up to 32 MiB) and, with it, the free
space it keeps at the top of the heap before giving pages back (twice that). A run that
moves many MiB-sized buffers (read blocks, chunks, compressed chunks) through several
threads therefore keeps an RSS that grows with the bytes moved, not with what it holds.
Setting both thresholds once switches that adjustment off. The mmap threshold, 32 MiB,
keeps read buffers on the heap (mapping each one anew cost a first snapshot of realistic
files 8-10% more at 1 MiB). The trim threshold, 16 MiB, keeps that much free at the top of
a heap instead of glibc's 128 KiB default: with the default, every freed read block went
back to the kernel and the next one faulted its pages in again (a 2.1 GB first snapshot:
375,000 minor page faults and 29% more system time than with 16 MiB, for 14 MB less peak
RSS). Either way the heap is bounded by what is held plus a constant, not by what passed
through. Measured in docs/performance-snapshot.md and docs/performance.md.

Python's cyclic collector is the other threshold a run adjusts once: by default it scans the
young objects every 700 net container allocations. A first snapshot of 10,000 documents makes
about 800,000 of them (model instances, rows, chunk lists, futures) and spent 1.3 s of CPU in
1,120 collections. ``quiet_collector`` moves the first threshold to 50,000 (measured with
``gc.callbacks``). Cycles are still collected, later: the one kind a snapshot made in bulk,
Django's prefetched M2M lists (280,000 objects), is broken where it is made
(``source/django_rows.py``), so that the later collection holds no more memory: 0.05 s of
collection in 40 runs, and a peak RSS of 133 MB against 139 MB at 700 (156 MB with the
threshold and the cycles both).
"""

from __future__ import annotations

import ctypes
import gc
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's own upper bound for the dynamic threshold
TRIM_THRESHOLD = 16 << 20  # free heap kept for the next read block rather than refaulted
# the collector's thresholds: net container allocations before a young collection, then
# young collections before a middle one, middle before a full one (CPython's are 700, 10, 10)
COLLECTOR_THRESHOLDS = (50_000, 20, 100)


def bound_heap() -> bool:
    """Fix glibc's mmap and trim thresholds; False where that does not apply (not Linux,
    or a C library without ``mallopt``)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # the process's own symbols: find_library would run ldconfig (~11 ms per command)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mapped = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and mapped


def quiet_collector() -> None:
    """Run Python's cyclic collector every ``COLLECTOR_THRESHOLDS[0]`` net container
    allocations instead of 700 (the module's docstring says why)."""
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
