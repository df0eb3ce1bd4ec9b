"""What the hardware allows on the site's bytes: read, BLAKE3, zstd, durable write, copy.

Each limit runs as its own child on the same media folder (page cache warm: the benchmark
cannot drop caches, so every figure is a warm one): the single-pass limits right after the
site is built, next to the first snapshot; ``cp -r`` at the end, next to the restores of the
same files, and ``cp -r`` + ``sync`` of snapexport's packs right before the restores (the
disk's limit for reading a store and writing its bytes durably). (``zip -r -6`` is the zip
step of the full export, see ``contenders.py``.) The plain read and the durable write reuse
``tools/bench_store.py``'s measurements; run as ``python limits.py read FOLDER`` /
``python limits.py write FOLDER SCRATCH`` they print their own timing as JSON (the read's
second, warm pass only).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path

from proc import Run, run, shell

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tools/: bench_store's plain_read and durable_write

SINGLE_PASS = ("read", "b3sum", "zstd -3 -T0")  # what a first snapshot must keep up with


def single_pass(media: Path, scratch: Path) -> dict[str, Run]:
    """Read, BLAKE3, zstd and durable write of the files below ``media`` (outputs removed)."""
    scratch.mkdir(parents=True, exist_ok=True)
    out: dict[str, Run] = {}
    files = f"find {media} -type f -print0 | sort -z"
    os.sync()
    out["read"] = _self_timed(run([sys.executable, __file__, "read", str(media)]))
    os.sync()
    out["b3sum"] = shell(f"{files} | xargs -0 b3sum --no-names > /dev/null")
    os.sync()
    out["zstd -3 -T0"] = shell(f"{files} | xargs -0 cat | zstd -3 -T0 -q -c > /dev/null")
    os.sync()
    out["write+fsync"] = _self_timed(
        run([sys.executable, __file__, "write", str(media), str(scratch / "disk")])
    )
    return out


def copy(media: Path, scratch: Path, *, durable: bool = False) -> Run:
    """``cp -r`` of the files below ``media`` (the copy is removed); ``durable``: then
    ``sync``, timed with it (reading those bytes and writing them to disk: what a restore
    of them must do at least)."""
    os.sync()
    done = run(["cp", "-r", str(media), str(scratch / "copy")])
    if durable:
        synced = run(["sync"])
        done = dataclasses.replace(done, seconds=done.seconds + synced.seconds)
    shutil.rmtree(scratch / "copy")
    return done


def _self_timed(done: Run) -> Run:
    return dataclasses.replace(done, seconds=json.loads(done.stdout)["seconds"])


def _paths(folder: Path) -> list[Path]:
    return sorted(Path(root) / name for root, _d, names in os.walk(folder) for name in names)


def _child(argv: list[str]) -> None:
    from bench_store import durable_write, plain_read

    paths = _paths(Path(argv[1]))
    if argv[0] == "read":
        plain_read(paths)  # the first pass warms the cache; the second is the figure
        started = time.perf_counter()
        plain_read(paths)
    else:
        started = time.perf_counter()
        durable_write(paths, Path(argv[2]))
    print(json.dumps({"seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    _child(sys.argv[1:])
