"""One measured child process: wall time, CPU time and peak RSS from the kernel's rusage."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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


# The measured command runs under this small launcher, which spawns it, waits for it and
# writes its wall time and rusage to a file. Linux counts in a child's peak RSS the
# pages of the process it was forked (or vforked) from, up to its exec: measured straight
# from this harness, which holds large outputs, a 0.3 s ``history`` showed 163 MB. The
# launcher (``python -I -S``, about 9 MB) bounds that error by its own size.
LAUNCHER = """
import os, sys, time
result, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ)
_, status, ru = os.wait4(pid, 0)
seconds = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
with open(result, "w") as f:
    f.write(f"{seconds} {ru.ru_utime} {ru.ru_stime} {ru.ru_maxrss} {code}")
"""


def run(
    argv: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    ok_codes: tuple[int, ...] = (0,),
) -> Run:
    """Run ``argv`` to completion and measure it (``os.wait4`` in a small launcher: rusage
    of this child only, its peak RSS not inflated by this process's)."""
    args = tuple(str(a) for a in argv)
    environment = dict(os.environ)
    environment.update(env or {})
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as scratch:  # fmt: skip
        result_file = Path(scratch) / "rusage"
        launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(result_file), *args]
        done = subprocess.run(launcher, cwd=cwd, env=environment, stdout=out, stderr=err)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        if done.returncode != 0 or not result_file.exists():  # the launch itself failed
            raise ChildFailed(f"{' '.join(args)} could not be run: {stderr.strip()[-2000:]}")
        seconds, user, system, rss, code = result_file.read_text().split()
    result = Run(
        argv=args,
        seconds=float(seconds),
        user=float(user),
        system=float(system),
        rss_kb=int(rss),
        returncode=int(code),
        stdout=stdout,
        stderr=stderr,
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
