"""Where a first snapshot's time goes, stage by stage, on the same files (one thread).

The snapshot's file path runs on the caller's thread: read a block, SHA-256 it (the DB's
checksum, ``snapshot.py``'s ``_HashingReader``), cut it into chunks (FastCDC), BLAKE3 each
chunk (the chunk id) and the whole blob again (the blob id), then hand the chunk to the
pack thread. This replays those stages cumulatively with the store's own chunker and ids,
so each line's increment is that stage's cost:

    python tools/bench/stages.py FOLDER [--store DIR]

With ``--store`` it also runs ``Store.put_file`` (hashing, packing, fsync) into DIR, and
the full snapshot path: ``put_file`` behind the snapshot's own checksum reader
(``filereads.HashingReader``), with SHA-256 on the calling thread and on its own thread,
and the snapshot's path for files up to 16 MiB (``put_bytes`` of each file while the next
is read whole and checksummed on that thread).
The CPU figures (process, and the calling thread alone: the critical path once the other
threads have a core) depend little on other load on the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path

import blake3

from snapexport.filereads import HashingReader as _HashingReader
from snapexport.filereads import Slurped as _Slurped
from snapexport.filereads import slurp as _slurp
from snapexport.store import Store
from snapexport.store.chunker import Chunker, ChunkerParams

BLOCK = 16 << 20


def _files(folder: Path) -> list[Path]:
    return sorted(Path(r) / n for r, _d, names in os.walk(folder) for n in names)


def _stage(paths: list[Path], work: Callable[[bytes], None]) -> float:
    started = time.perf_counter()
    for path in paths:
        with open(path, "rb") as f:
            while block := f.read(BLOCK):
                work(block)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--store", type=Path, help="also time Store.put_file into this folder")
    args = parser.parse_args()
    paths = _files(args.folder)
    total = sum(p.stat().st_size for p in paths)
    chunker = Chunker(ChunkerParams())
    _stage(paths, lambda b: None)  # warm the page cache

    def sha(b: bytes) -> None:
        hashlib.sha256(b).digest()

    def cut(b: bytes) -> None:
        for _ in chunker.chunks_of(b):
            pass

    def ids(b: bytes) -> None:
        for c in chunker.chunks_of(b):
            blake3.blake3(c).digest()

    def blob(b: bytes) -> None:
        ids(b)
        blake3.blake3(b).digest()

    stages: list[tuple[str, Callable[[bytes], None]]] = [
        ("read", lambda b: None),
        ("read + SHA-256", sha),
        ("read + FastCDC", cut),
        ("read + FastCDC + BLAKE3 chunk ids", ids),
        ("read + FastCDC + BLAKE3 chunk ids + blob id", blob),
        ("read + SHA-256 + FastCDC + BLAKE3 chunk ids + blob id", lambda b: (sha(b), blob(b))),
    ]
    print(f"{len(paths)} files, {total / 1e6:.0f} MB; one thread, page cache warm")
    for name, work in stages:
        seconds = _stage(paths, work)
        print(f"{name:<56} {seconds:6.2f}s {total / 1e6 / seconds:7.0f} MB/s")
    if args.store:
        lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checksum")
        runs: list[tuple[str, Callable[[Store], None]]] = [
            ("Store.put_file", lambda st: _put_files(st, paths, None, sha=False)),
            ("Store.put_file behind the SHA-256 reader, inline",
             lambda st: _put_files(st, paths, None, sha=True)),
            ("Store.put_file behind the SHA-256 reader, own thread",
             lambda st: _put_files(st, paths, lane, sha=True)),
            ("Store.put_prepared, next file read, SHA-256, cut, ids on that thread",
             lambda st: _read_ahead(st, paths, lane)),
        ]  # fmt: skip
        for name, put in runs:
            shutil.rmtree(args.store, ignore_errors=True)
            started = time.perf_counter()
            cpu = time.process_time()
            main_cpu = time.thread_time()
            with Store.init(args.store) as store:
                put(store)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - cpu
            main_cpu = time.thread_time() - main_cpu
            print(
                f"{name:<56} {seconds:6.2f}s {total / 1e6 / seconds:7.0f} MB/s"
                f" (CPU {cpu:.1f}s, main thread {main_cpu:.1f}s)"
            )
        lane.shutdown()
        shutil.rmtree(args.store, ignore_errors=True)


def _put_files(store: Store, paths: list[Path], lane: Executor | None, *, sha: bool) -> None:
    """Stream each file into the store, optionally behind the snapshot's checksum reader;
    as the snapshot does, a file's checksum is taken after the next file is stored."""
    previous: _HashingReader | None = None
    for path in paths:
        with open(path, "rb") as f:
            if not sha:
                store.put_file(f, compressible=False)
                continue
            reader = _HashingReader(f, "sha256", lane=lane, size=os.fstat(f.fileno()).st_size)
            store.put_file(reader, compressible=False)  # type: ignore[arg-type]
        if previous is not None:
            previous.hexdigest()
        previous = reader
    if previous is not None:
        previous.hexdigest()


def _read_ahead(store: Store, paths: list[Path], lane: Executor) -> None:
    """The snapshot's path for files up to 16 MiB: the next file is read whole, checksummed,
    cut and hashed on the checksum thread while this one is packed and indexed."""
    ahead: Future[_Slurped] | None = None
    for path in [*paths, None]:
        nxt = None
        if path is not None:
            nxt = lane.submit(_slurp, path, path.stat().st_size, "sha256", store.prepare)
        if ahead is not None:
            prepared = ahead.result()[3]
            assert prepared is not None, "a file changed while the stages ran"
            store.put_prepared(prepared, compressible=False)
        ahead = nxt


if __name__ == "__main__":
    main()
