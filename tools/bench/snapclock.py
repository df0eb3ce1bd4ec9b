"""The snapexport command line with a fixed clock, so benchmark nights fall on distinct days.

A snapshot depicts the moment it is taken (``snapexport.snapshot._now``). The benchmark
simulates 30 nights in a few minutes; for ``prune --keep-daily 7`` to mean what it does on a
real site, each night's snapshot must carry that night's date. This wrapper replaces the
clock with ``SNAPEXPORT_BENCH_TIME`` (ISO 8601) and runs the unchanged CLI:

    SNAPEXPORT_BENCH_TIME=2025-01-02T02:00:00+00:00 python tools/bench/snapclock.py snapshot ...

restic and borg get the same dates through their own ``--time`` / ``--timestamp`` options.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

import snapexport.snapshot as snapshot_module
from snapexport.cli import main


def _fixed_clock() -> None:
    moment = datetime.fromisoformat(os.environ["SNAPEXPORT_BENCH_TIME"])
    if not hasattr(snapshot_module, "_now"):
        sys.exit("snapclock: snapexport.snapshot._now is gone; use --keep-last instead")
    snapshot_module._now = lambda: moment  # type: ignore[attr-defined]


if __name__ == "__main__":
    if os.environ.get("SNAPEXPORT_BENCH_TIME"):
        _fixed_clock()
    main()
