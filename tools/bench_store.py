"""Store throughput against the machine's limits, measured in the same run on the same bytes.

Generates a paperless-like file set (lognormal sizes, median ~250 KB; mostly PDF-like
barely compressible bytes, some compressible text; deterministic), then times:

* limits: plain read of every file, ``b3sum`` over them, ``zstd -3`` over them, and the
  disk's durable write rate (the same bytes into fsynced 32 MiB files, as packs are written);
* the store: writing every file through ``Store.put_file`` (flushed, durable), then
  reading every blob back through ``Store.read_blob``.

and prints MB/s with the ratio store / slowest limit. With ``--chunkers`` it instead compares
the compiled FastCDC chunkers on PyPI (throughput, size distribution, edit stability).

    python tools/bench_store.py --size 1000            # ~1 GB
    python tools/bench_store.py --chunkers --size 256
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import blake3

from snapexport.store import Store

MB = 1_000_000
MIB = 1 << 20
WORDS = [
    "invoice",
    "receipt",
    "total",
    "amount",
    "tax",
    "date",
    "customer",
    "account",
    "paperless",
    "document",
    "scan",
    "page",
    "correspondent",
    "tag",
    "archive",
    "payment",
    "due",
    "reference",
    "number",
    "insurance",
    "contract",
    "bank",
    "letter",
]


def make_files(folder: Path, total: int, seed: int) -> list[Path]:
    """Write a deterministic paperless-like file set of about ``total`` bytes."""
    rng = random.Random(seed)
    text = " ".join(rng.choice(WORDS) for _ in range(400_000)).encode()
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    written = 0
    n = 0
    while written < total:
        size = min(int(rng.lognormvariate(math.log(250_000), 1.0)), 30 * MB, total - written)
        size = max(size, 1)
        if rng.random() < 0.8:  # PDF-like: a small text header and trailer around random bytes
            body = blake3.blake3(f"{seed}-{n}".encode()).digest(length=max(size - 2000, 0))
            data = (b"%PDF-1.7\n" + text[:1000] + body + text[-991:])[:size]
            name = f"{n:06d}.pdf"
        else:
            start = rng.randrange(0, len(text) - min(size, len(text) - 1))
            chunk = text[start : start + size]
            data = (chunk * (size // max(len(chunk), 1) + 1))[:size]
            name = f"{n:06d}.txt"
        path = folder / name[:2] / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
        written += size
        n += 1
    return paths


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def plain_read(paths: list[Path]) -> None:
    buf = bytearray(4 * MIB)
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


def durable_write(paths: list[Path], folder: Path, pack: int = 32 * MIB) -> None:
    """Copy the files' bytes into fsynced 32 MiB files: the disk's limit for writing packs."""
    folder.mkdir(exist_ok=True)
    out, n, filled = None, 0, 0
    for p in paths:
        if out is None:
            out = open(folder / f"{n:05d}", "wb", buffering=0)  # noqa: SIM115
        filled += out.write(p.read_bytes())
        if filled >= pack:
            os.fsync(out.fileno())
            out.close()
            out, n, filled = None, n + 1, 0
    if out is not None:
        os.fsync(out.fileno())
        out.close()
    shutil.rmtree(folder)


def run_tool(cmd: list[str], paths: list[Path]) -> None:
    for i in range(0, len(paths), 1000):
        subprocess.run(
            [*cmd, *map(str, paths[i : i + 1000])], check=True, stdout=subprocess.DEVNULL
        )


def bench_store(args: argparse.Namespace) -> None:
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-store-"))
    paths = make_files(work / "files", int(args.size * MB), args.seed)
    total = sum(p.stat().st_size for p in paths)
    sizes = sorted(p.stat().st_size for p in paths)
    print(f"{len(paths)} files, {total / MB:.0f} MB, median {sizes[len(sizes) // 2] / 1e3:.0f} KB")
    plain_read(paths)  # warm the page cache: every figure below reads from memory
    limits = {
        "plain read": timed(lambda: plain_read(paths)),
        "b3sum": timed(lambda: run_tool(["b3sum", "--no-names"], paths)),
        "zstd -3": timed(lambda: run_tool(["zstd", "-3", "-q", "-c"], paths)),
    }
    disk = {"write+fsync": timed(lambda: durable_write(paths, work / "disk"))}
    os.sync()
    store_dir = work / "store"
    shutil.rmtree(store_dir, ignore_errors=True)
    refs = []

    def write() -> None:
        with Store.init(store_dir, compression_level=3) as store:
            for p in paths:
                with open(p, "rb") as f:
                    refs.append(store.put_file(f))
        print(f"  store stats: {store.stats}")

    def read() -> None:
        with Store.open(store_dir) as store:
            for ref in refs:
                for _ in store.read_blob(ref.id):
                    pass

    t_write = timed(write)
    t_read = timed(read)
    stored = sum(p.stat().st_size for p in (store_dir / "packs").rglob("*") if p.is_file())
    slowest = max(limits.values())
    slowest_w = max(slowest, *disk.values())
    print(f"{'what':<14}{'MB/s':>9}")
    for name, t in {**limits, **disk}.items():
        print(f"{name:<14}{total / MB / t:>9.0f}")
    print(
        f"{'store write':<14}{total / MB / t_write:>9.0f}   {slowest / t_write:.2f} of slowest"
        f" of read/b3sum/zstd, {slowest_w / t_write:.2f} counting the disk's write+fsync"
    )
    print(
        f"{'store read':<14}{total / MB / t_read:>9.0f}   {slowest / t_read:.2f} of slowest limit"
    )
    print(f"stored {stored / MB:.0f} MB for {total / MB:.0f} MB ({total / stored:.2f}:1)")
    if not args.dir:
        shutil.rmtree(work)


def bench_chunkers(args: argparse.Namespace) -> None:
    data = blake3.blake3(b"chunkers").digest(length=int(args.size * MIB))
    edited = data[:1000] + b"!" + data[1000:]
    cands: dict[str, Callable[[bytes], Iterator[int]]] = {}
    from pyfastcdc import FastCDC

    for avg in (512 * 1024, MIB):
        cdc = FastCDC(avg, min_size=256 * 1024, max_size=8 * MIB)
        cands[f"pyfastcdc 0.3.1 avg={avg >> 10}K"] = lambda d, c=cdc: (
            ch.length for ch in c.cut_buf(d)
        )
    try:
        import fastcdc

        cands["fastcdc 1.7.0 avg=1024K"] = lambda d: (
            ch.length for ch in fastcdc.fastcdc(d, 256 * 1024, MIB, 8 * MIB)
        )
    except ImportError:
        print("fastcdc not installed: skipped")
    from snapexport.store.chunker import Chunker, ChunkerParams

    ours = Chunker(ChunkerParams())
    cands["snapexport Chunker (stream)"] = lambda d: (len(c) for c in ours.chunks(io.BytesIO(d)))
    print(f"{args.size:.0f} MiB random data, min 256 KiB, max 8 MiB")
    print(
        f"{'chunker':<30}{'MB/s':>7}{'n':>6}{'mean':>9}{'p5':>9}{'median':>9}{'p95':>9}{'changed':>9}"
    )
    for name, cut in cands.items():
        t = time.perf_counter()
        sizes = list(cut(data))
        dt = time.perf_counter() - t
        spans = _spans(sizes)
        after = _spans(list(cut(edited)))
        before = {data[a:b] for a, b in spans}
        changed = sum(edited[a:b] not in before for a, b in after)
        s = sorted(sizes[:-1]) or sizes
        print(
            f"{name:<30}{len(data) / MB / dt:>7.0f}{len(sizes):>6}"
            f"{statistics.mean(s) / 1024:>8.0f}K{s[len(s) // 20] / 1024:>8.0f}K"
            f"{s[len(s) // 2] / 1024:>8.0f}K{s[len(s) * 19 // 20] / 1024:>8.0f}K{changed:>9}"
        )


def _spans(sizes: list[int]) -> list[tuple[int, int]]:
    out, pos = [], 0
    for s in sizes:
        out.append((pos, pos + s))
        pos += s
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=200, help="MB of files (MiB with --chunkers)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", help="keep files and store here (default: a temp folder)")
    parser.add_argument("--chunkers", action="store_true", help="compare chunkers instead")
    args = parser.parse_args()
    if args.chunkers:
        bench_chunkers(args)
    else:
        bench_store(args)


if __name__ == "__main__":
    main()
