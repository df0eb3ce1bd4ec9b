"""bound_heap: fixes glibc's malloc thresholds on Linux; harmless elsewhere. quiet_collector:
Python's cyclic collector runs rarely, and still collects."""

from __future__ import annotations

import subprocess
import sys

import pytest

from snapexport.heap import bound_heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_applies_on_glibc_and_is_called_by_every_command() -> None:
    assert bound_heap() is True  # mallopt accepted the parameter
    # The CLI's group callback calls it: a command run with a patched bound_heap says so.
    code = (
        "import sys, snapexport.heap as h\n"
        "h.bound_heap = lambda: print('bound') or True\n"
        "h.quiet_collector = lambda: print('quiet')\n"
        "from snapexport.cli import main\n"
        "sys.argv = ['snapexport', 'snapshots', '--help']\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("bound\nquiet\n"), out.stdout


# A child that frees and allocates a read block of 8 MiB 40 times, touching each page, and
# prints the minor page faults that cost it; "mmap-only" fixes only the mmap threshold, as
# bound_heap did before it fixed the trim threshold too.
_CHURN = """
import ctypes, resource, sys
from snapexport import heap
if sys.argv[1] == "bound":
    assert heap.bound_heap()
else:
    assert ctypes.CDLL(None).mallopt(heap.M_MMAP_THRESHOLD, heap.MMAP_THRESHOLD)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(40):
    block = bytearray(8 << 20)
    block[::4096] = bytes([i + 1]) * len(block[::4096])  # touch every page
    del block
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _CHURN, mode], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_a_freed_read_block_is_reused_not_faulted_in_again() -> None:
    """With only the mmap threshold fixed, the block's pages go back to the kernel at each
    free and fault in again (40 x 2,048 pages); with the trim threshold fixed as well they
    stay for the next block."""
    mmap_only, bound = _faults("mmap-only"), _faults("bound")
    assert mmap_only > 40 * 1500, mmap_only
    assert bound < 5 * 2048, bound


# A child that keeps 200,000 lists alive (as a snapshot's rows and chunk lists are, for a
# while), then drops a reference cycle, and prints how many young collections ran and
# whether the cycle was collected without an explicit gc.collect().
_YOUNG = """
import gc, sys, weakref
from snapexport import heap
if sys.argv[1] == "quiet":
    heap.quiet_collector()
runs = [0]
gc.callbacks.append(lambda phase, info: phase == "start" and runs.__setitem__(0, runs[0] + 1))
kept = [[i] for i in range(200_000)]
class Node:
    pass
a, b = Node(), Node()
a.other, b.other = b, a
gone = weakref.ref(a)
del a, b
garbage = [[i] for i in range(120_000)]
print(runs[0], gone() is None)
"""


def _young(mode: str) -> tuple[int, bool]:
    out = subprocess.run([sys.executable, "-c", _YOUNG, mode], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    runs, collected = out.stdout.split()
    return int(runs), collected == "True"


def test_the_collector_runs_rarely_and_still_collects_cycles() -> None:
    default_runs, _ = _young("default")
    quiet_runs, collected = _young("quiet")
    assert default_runs > 400, default_runs  # every 700 net allocations: 320,000 / 700
    assert quiet_runs <= 8, quiet_runs  # every 50,000
    assert collected  # a cycle dropped before the next collection is still freed by it
