"""The first backup, alternated: snapexport against dump + borg and dump + restic, N rounds.

    python tools/bench/first.py --documents 10000 --rounds 5 --work DIR
    python tools/bench/first.py --site DIR --rounds 5 --work DIR   # an existing bench site
    python tools/bench/first.py ... --trusted   # also snapshot --trust-checksums

The CPU a first backup takes moves by up to 30% from one run to the next on a shared VM,
more than the gap issue 20 judges (snapexport's CPU <= borg's). So each round runs every
contender once on the same site, in an order that rotates from round to round, each after
reading the site into the page cache; the medians of the rounds are compared, and every
round's figures are kept in the JSON (``results/first.json``). Every backup goes into a
new, empty repository, removed after it. As in ``run.py``, the peers back up the media
folder and a data-only dump (``dumpdata``), whose time is counted in theirs; snapexport
reads the database itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchsite import BenchSite
from contenders import DUMP, Borg, Restic, Snapexport
from proc import Run, tree_bytes, tree_files
from run import FIRST_NIGHT, check_tools, use_code, versions

HERE = Path(__file__).resolve().parent
MB = 1e6
CPU_PEERS = ("borg", "borg lz4")  # issue 20: CPU <= borg's, with zstd,3 and with lz4
MB_S_RATIO = 1.2  # issue 20: >= 1.2x every peer's MB/s
TRUSTED = "snapexport trusted"  # snapshot --trust-checksums: no SHA-256 of every byte


def warm(folder: Path) -> None:
    """Read every file under ``folder`` once, so that each contender finds it cached."""
    buf = bytearray(16 << 20)
    for root, _, names in os.walk(folder):
        for name in names:
            with open(os.path.join(root, name), "rb", buffering=0) as f:
                while f.readinto(buf):
                    pass


def one_round(site: BenchSite, work: Path, order: list[str]) -> dict[str, dict[str, float]]:
    """Each contender once, in ``order``; wall and CPU seconds of each (peers: + the dump)."""
    media = tree_bytes(site.media)
    out: dict[str, dict[str, float]] = {}
    dump: Run | None = None

    def timed(name: str, runs: list[Run]) -> None:
        seconds = sum(r.seconds for r in runs)
        out[name] = {
            "seconds": round(seconds, 2),
            "cpu": round(sum(r.user + r.system for r in runs), 2),
            "mb_s": round(media / seconds / MB, 1),
            "rss_mb": round(max(r.rss_kb for r in runs) / 1024, 1),
        }

    def ours(name: str, *options: str) -> Callable[[], None]:
        def go() -> None:
            tool = Snapexport(site, work / "snapexport.store")
            tool.init()
            os.sync()
            timed(name, [tool.backup(FIRST_NIGHT, *options)])
            shutil.rmtree(tool.store)

        return go

    def peer(make: Callable[[], Borg | Restic]) -> Callable[[], None]:
        def go() -> None:
            nonlocal dump
            tool = make()
            tool.init()
            if dump is None:  # one dump a round, counted in every peer's time
                dump = site.dump_data(site.folder / DUMP / "manifest.json")
            os.sync()
            timed(tool.name, [dump, tool.backup(FIRST_NIGHT)])
            for folder in (tool.repo, getattr(tool, "home", None), getattr(tool, "cache", None)):
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)

        return go

    actions = {
        "snapexport": ours("snapexport"),
        TRUSTED: ours(TRUSTED, "--trust-checksums"),
        "borg": peer(lambda: Borg(site, work / "borg", work / "borg-home")),
        "borg lz4": peer(lambda: Borg(site, work / "borg", work / "borg-home", "lz4")),
        "restic": peer(lambda: Restic(site, work / "restic", work / "restic-cache")),
    }
    for name in order:
        warm(site.folder)
        actions[name]()
    assert dump is not None
    out["dump"] = {"seconds": round(dump.seconds, 2), "cpu": round(dump.user + dump.system, 2)}
    return out


def summarize(rounds: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    names = rounds[0].keys()
    return {
        name: {
            key: round(statistics.median(r[name][key] for r in rounds), 2)
            for key in rounds[0][name]
        }
        for name in names
    }


def targets(
    median: dict[str, dict[str, float]], rounds: list[dict[str, Any]], us: str = "snapexport"
) -> list[str]:
    """Issue 20's first-snapshot targets on the medians, with the rounds each held in."""
    ours = median[us]
    what = "first snapshot" if us == "snapexport" else f"first snapshot ({us})"
    lines = []
    for peer in ("borg", "borg lz4", "restic"):
        ratio = ours["mb_s"] / median[peer]["mb_s"]
        held = sum(r[us]["mb_s"] >= MB_S_RATIO * r[peer]["mb_s"] for r in rounds)
        lines.append(
            f"{what} MB/s >= {MB_S_RATIO}x {peer}'s (dump included):"
            f" {'met' if ratio >= MB_S_RATIO else 'MISS'}, median {ours['mb_s']:.0f} vs"
            f" {median[peer]['mb_s']:.0f} MB/s: {ratio:.2f}x (held in {held} of {len(rounds)})"
        )
    for peer in CPU_PEERS:
        held = sum(r[us]["cpu"] <= r[peer]["cpu"] for r in rounds)
        ok = ours["cpu"] <= median[peer]["cpu"]
        lines.append(
            f"{what} CPU <= {peer}'s (dump included): {'met' if ok else 'MISS'},"
            f" median {ours['cpu']:.1f} vs {median[peer]['cpu']:.1f} s"
            f" (held in {held} of {len(rounds)})"
        )
    return lines


def table(median: dict[str, dict[str, float]], rounds: list[dict[str, Any]]) -> str:
    rows = ["| first backup (median) | wall s | CPU s | MB/s | CPU s, each round |",
            "|---|---:|---:|---:|---|"]  # fmt: skip
    for name, m in median.items():
        each = ", ".join(f"{r[name]['cpu']:.1f}" for r in rounds)
        rate = f"{m['mb_s']:.0f}" if "mb_s" in m else ""
        rows.append(f"| {name} | {m['seconds']:.1f} | {m['cpu']:.1f} | {rate} | {each} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=10_000, help="documents of a new site")
    parser.add_argument("--site", type=Path, help="an existing bench site (benchsite.py)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--at", default="HEAD", help="snapexport as committed here (run.py)")
    parser.add_argument("--work", type=Path, help="working folder (default: a temp folder)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "first.json")
    parser.add_argument(
        "--trusted", action="store_true", help=f"also run {TRUSTED} (snapshot --trust-checksums)"
    )
    args = parser.parse_args()
    check_tools()
    work = args.work or Path(tempfile.mkdtemp(prefix="snapexport-first-"))
    if args.work and any(work.iterdir() if work.exists() else ()):
        sys.exit(f"{work} is not empty")
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        commit = use_code(args.at, work)
        site = BenchSite(args.site or work / "site", args.documents, args.seed)
        if args.site is None:
            print(f"# creating a site of {args.documents} documents", file=sys.stderr)
            site.create()
        names = ["snapexport", "borg", "borg lz4", "restic"] + ([TRUSTED] if args.trusted else [])
        rounds = []
        for n in range(args.rounds):
            order = names[n % len(names) :] + names[: n % len(names)]
            rounds.append(one_round(site, work, order))
            cpu = ", ".join(f"{k} {v['cpu']:.1f}" for k, v in rounds[-1].items())
            print(f"# round {n + 1}: CPU s {cpu}", file=sys.stderr, flush=True)
        median = summarize(rounds)
        lines = targets(median, rounds)
        if args.trusted:
            lines += targets(median, rounds, TRUSTED)
        print(table(median, rounds))
        print()
        print("\n".join(lines))
        result = {
            "version": 1,
            "commit": commit,
            "machine": versions(),
            "site": {
                "documents": site.document_count(),
                "files": tree_files(site.media),
                "media_bytes": tree_bytes(site.media),
            },
            "rounds": rounds,
            "median": median,
            "targets": lines,
            "seconds": round(time.perf_counter() - started, 1),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
