"""One measured child process: wall time, CPU time and peak RSS from the kernel's rusage."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class ChildFailed(RuntimeError):
    """A measured command exited non-zero."""


@dataclass(frozen=True, slots=True)
class Run:
    """What one child did: its command, times, peak RSS and output."""

    argv: tuple[str, ...]
    seconds: float
    user: float
    system: float
    rss_kb: int  # the largest RSS of the child or any descendant it waited for
    returncode: int
    stdout: str
    stderr: str


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    ok_codes: tuple[int, ...] = (0,),
) -> Run:
    """Run ``argv`` to completion and measure it (``os.wait4``: rusage of this child only)."""
    args = tuple(str(a) for a in argv)
    environment = dict(os.environ)
    environment.update(env or {})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=environment, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        out.seek(0)
        err.seek(0)
        result = Run(
            argv=args,
            seconds=seconds,
            user=usage.ru_utime,
            system=usage.ru_stime,
            rss_kb=usage.ru_maxrss,
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
        )
    if check and result.returncode not in ok_codes:
        raise ChildFailed(
            f"{' '.join(args)} exited {result.returncode}: {result.stderr.strip()[-2000:]}"
        )
    return result


def shell(script: str, *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Run:
    """Run a bash pipeline (``set -o pipefail``) as one measured child."""
    return run(["bash", "-c", f"set -euo pipefail; {script}"], cwd=cwd, env=env)


def tree_bytes(path: Path) -> int:
    """Apparent size of every regular file below ``path`` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            total += st.st_size
    return total


def tree_files(path: Path) -> int:
    """How many regular files lie below ``path``."""
    return sum(len(files) for _root, _dirs, files in os.walk(path))
