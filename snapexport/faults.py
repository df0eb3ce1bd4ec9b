"""Named fault-injection points, so tests can crash or interrupt the real CLI deterministically.

Production code calls ``checkpoint("snapshot:before-commit")`` at the moments where a crash
is most dangerous. Nothing happens unless the environment variable ``SNAPEXPORT_FAULT``
names that point::

    SNAPEXPORT_FAULT=snapshot:before-commit=kill       SIGKILL this process (kill -9)
    SNAPEXPORT_FAULT=snapshot:before-commit=interrupt  raise KeyboardInterrupt (Ctrl-C)
    SNAPEXPORT_FAULT=snapshot:after-records=pause:/tmp/go
                                                       wait until /tmp/go exists

Several entries may be separated by commas. The cost when unset is one dict lookup.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

ENV = "SNAPEXPORT_FAULT"


def _plan() -> dict[str, str]:
    spec = os.environ.get(ENV, "")
    out = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        point, _, action = item.partition("=")
        out[point] = action
    return out


def armed(*points: str) -> bool:
    """Whether the environment names any of these points (to set up costlier hooks)."""
    if ENV not in os.environ:
        return False
    plan = _plan()
    return any(p in plan for p in points)


def checkpoint(point: str) -> None:
    """Crash, interrupt or pause here if the environment asks for it."""
    action = _plan().get(point) if ENV in os.environ else None
    if not action:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "interrupt":
        raise KeyboardInterrupt
    elif action.startswith("pause:"):
        flag = Path(action.removeprefix("pause:"))
        ready = flag.with_name(flag.name + ".reached")
        ready.touch()
        deadline = time.monotonic() + 120
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
