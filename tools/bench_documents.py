"""How fast ``ls``, ``find`` and ``history`` answer on a large catalog, and their peak RSS.

Builds the same store as ``bench_diff.py`` (a paperless catalog of ``--documents``
documents, inserted span by span, then a second snapshot with 1 % of the documents edited,
trashed, deleted or added; no pack files, so only the catalog commands can run), then runs
each command in a fresh process, ``--repeat`` times, and prints the median wall time (Python
start-up included) and the peak RSS (VmHWM). The first run builds the document index (a
cache beside the catalog, in SNAPEXPORT_CACHE_DIR): it is timed on its own, as "index build".
The target (issue 18): under 1 s each at 100,000 documents, once the index exists. With
``--small`` a site a tenth the size runs too: equal RSS shows memory flat in the documents.

With ``--peers`` (restic and borg on the PATH), the same questions are put to them: a folder
holding one small file per document of the latest snapshot, under the exporter's name for
its original, backed up by each, then ``restic ls``, ``restic ls --json``, ``restic find
NAME``, ``borg list`` and ``borg list --json-lines``, timed the same way, with ratios.

    python tools/bench_documents.py [--documents 100000] [--repeat 5] [--small] [--keep DIR]
                                    [--peers]

Timing figures need a quiet machine; byte counts and RSS do not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_diff import build  # a sibling tool: the same catalog

# Runs the CLI in-process, then reports its peak RSS (VmHWM: ru_maxrss carries over the
# parent's across fork and exec).
CHILD = """
import os, sys, time
from snapexport.cli import main
t = time.perf_counter()
try:
    main.main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
took = time.perf_counter() - t
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
os.write(2, f"\\nBENCH {took} {status}\\n".encode())
"""


def _run(args: list[str], cache: Path) -> tuple[float, float, int, int]:
    """(wall seconds, in-process seconds, peak RSS KiB, stdout bytes) of one command."""
    env = {**os.environ, "SNAPEXPORT_CACHE_DIR": str(cache)}
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, env=env)
    wall = time.perf_counter() - t
    line = [x for x in done.stderr.decode().splitlines() if x.startswith("BENCH ")]
    if done.returncode != 0 or not line:
        raise SystemExit(f"{args}: {done.stderr.decode()}")
    _, took, rss = line[-1].split()
    return wall, float(took), int(rss), len(done.stdout)


def _first_lines(args: list[str], cache: Path, lines: int = 20) -> float:
    """Wall seconds until the first ``lines`` lines of output arrive (then the pipe is
    closed, as ``| head`` does): how long a person waits for a listing to start."""
    env = {**os.environ, "SNAPEXPORT_CACHE_DIR": str(cache)}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "snapexport", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    assert proc.stdout is not None
    for _ in range(lines):
        proc.stdout.readline()
    took = time.perf_counter() - t
    proc.stdout.close()
    proc.wait()
    return took


def _listed(store: Path, cache: Path, *filters: str) -> list[dict[str, Any]]:
    """The documents ``ls --json`` lists for the latest snapshot (untimed)."""
    env = {**os.environ, "SNAPEXPORT_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-m", "snapexport", "ls", "--store", str(store),
                           "--json", *filters], capture_output=True, env=env,
                          check=True)  # fmt: skip
    documents: list[dict[str, Any]] = json.loads(done.stdout)["documents"]
    return documents


def _sought(store: Path, cache: Path) -> tuple[str, str]:
    """Title and checksum of a document of the latest snapshot (the middle one of those
    tagged "Tag 7"): what find looks for, so that every query finds something."""
    docs = _listed(store, cache, "--tag", "Tag 7")
    doc = docs[len(docs) // 2]
    return doc["title"], doc["checksum"]


def commands(store: Path, documents: int, cache: Path) -> list[tuple[str, list[str]]]:
    s = ["--store", str(store)]
    edited = str(documents // 2)
    title, checksum = _sought(store, cache)
    return [
        ("find TITLE WORD", ["find", *s, "--json", title]),
        ("find correspondent", ["find", *s, "--json", "Correspondent 17"]),
        ("find checksum", ["find", *s, "--json", checksum[:10]]),
        ("history", ["history", *s, "--json", edited]),
        ("ls --tag", ["ls", *s, "--json", "--tag", "Tag 7"]),
        ("ls --title GLOB", ["ls", *s, "--json", "--title", "*Invoice Invoice*"]),
        ("ls (every document)", ["ls", *s, "--json"]),
        ("ls (every document, text)", ["ls", *s]),
    ]


def measure(store: Path, documents: int, repeat: int, cache: Path) -> list[dict[str, Any]]:
    shutil.rmtree(cache, ignore_errors=True)
    rows = []
    wall, took, rss, _ = _run(["find", "--store", str(store), "--json", "zzzz"], cache)
    rows.append({"command": "index build (first find)", "wall_s": wall, "in_process_s": took,
                 "rss_mb": rss / 1024, "output_bytes": 0})  # fmt: skip
    for name, args in commands(store, documents, cache):
        runs = [_run(args, cache) for _ in range(repeat)]
        rows.append({
            "command": name,
            "wall_s": statistics.median(r[0] for r in runs),
            "in_process_s": statistics.median(r[1] for r in runs),
            "rss_mb": max(r[2] for r in runs) / 1024,
            "output_bytes": runs[0][3],
        })  # fmt: skip
    first = [_first_lines(["ls", "--store", str(store)], cache) for _ in range(repeat)]
    nan = float("nan")
    rows.append({"command": "ls, first 20 lines", "wall_s": statistics.median(first),
                 "in_process_s": nan, "rss_mb": nan, "output_bytes": 0})  # fmt: skip
    return rows


PEER_PASSWORD = "snapexport-bench"  # a benchmark repository of empty files


def _timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, int]:
    """(wall seconds, stdout bytes) of one peer command."""
    t = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env={**os.environ, **env}, cwd=cwd)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: {done.stderr.decode()[-500:]}")
    return wall, len(done.stdout)


def peers(store: Path, cache: Path, work: Path, repeat: int) -> list[dict[str, Any]]:
    """restic and borg asked the same questions about a snapshot of the same documents."""
    names = [d["original"] for d in _listed(store, cache)]
    sought = names[len(names) // 2]
    shutil.rmtree(work, ignore_errors=True)
    tree = work / "tree"
    for i, name in enumerate(names):  # one small file a document, under its export name
        path = tree / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{i}\n".encode())
    restic = {"RESTIC_REPOSITORY": str(work / "restic"), "RESTIC_PASSWORD": PEER_PASSWORD,
              "RESTIC_CACHE_DIR": str(work / "restic-cache"), "TZ": "UTC"}  # fmt: skip
    borg = {"BORG_REPO": str(work / "borg"), "BORG_BASE_DIR": str(work / "borg-home"),
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "TZ": "UTC"}  # fmt: skip
    _timed(["restic", "init", "--repository-version", "2"], restic)
    _timed(["restic", "backup", "--quiet", "."], restic, cwd=tree)
    _timed(["borg", "init", "--encryption", "none"], borg)
    _timed(["borg", "create", "::docs", "."], borg, cwd=tree)
    asked = [
        ("restic ls", ["restic", "ls", "latest"], restic),
        ("restic ls --json", ["restic", "ls", "--json", "latest"], restic),
        ("restic find NAME", ["restic", "find", sought], restic),
        ("borg list", ["borg", "list", "::docs"], borg),
        ("borg list --json-lines", ["borg", "list", "--json-lines", "::docs"], borg),
    ]
    rows = []
    for name, argv, peer_env in asked:
        runs = [_timed(argv, peer_env) for _ in range(repeat)]
        rows.append({"command": name, "wall_s": statistics.median(r[0] for r in runs),
                     "output_bytes": runs[0][1], "entries": len(names)})  # fmt: skip
    return rows


# (ours, theirs): the same question, asked of snapexport and of a peer
RATIOS = [
    ("ls (every document, text)", "restic ls"),
    ("ls (every document, text)", "borg list"),
    ("ls (every document)", "restic ls --json"),
    ("ls (every document)", "borg list --json-lines"),
    ("find TITLE WORD", "restic find NAME"),
]


def _print_peers(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> None:
    print(f"  peers, {theirs[0]['entries']:,} files (one a document):")
    for r in theirs:
        print(f"  {r['command']:<26} wall {r['wall_s']:6.2f}s"
              f"  output {r['output_bytes']:>11,} B")  # fmt: skip
    walls = {r["command"]: r["wall_s"] for r in ours + theirs}
    for mine, peer in RATIOS:
        print(f"  {mine} / {peer}: {walls[mine] / walls[peer]:.2f}x the time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="also a site a tenth the size")
    parser.add_argument("--keep", type=Path, help="build the stores here and keep them")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--peers", action="store_true", help="also restic and borg (on PATH)")
    args = parser.parse_args()
    if args.peers and not (shutil.which("restic") and shutil.which("borg")):
        raise SystemExit("--peers needs restic and borg on the PATH: install them (apt install"
                         " restic borgbackup) or leave out --peers")  # fmt: skip
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-documents-"))
    root.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    try:
        sizes = [args.documents] + ([args.documents // 10] if args.small else [])
        for documents in sizes:
            path = root / f"store-{documents}"
            if not path.exists():
                build(root, documents, max(1, documents // 100))
            rows = measure(path, documents, args.repeat, root / f"cache-{documents}")
            results[str(documents)] = rows
            print(f"{documents:,} documents (median of {args.repeat}; wall includes Python"
                  " start-up):")  # fmt: skip
            for r in rows:
                print(f"  {r['command']:<26} wall {r['wall_s']:6.2f}s  in-process"
                      f" {r['in_process_s']:6.2f}s  peak RSS {r['rss_mb']:5.0f} MB"
                      f"  output {r['output_bytes']:>11,} B")  # fmt: skip
            if args.peers:
                theirs = peers(path, root / f"cache-{documents}", root / f"peers-{documents}",
                               args.repeat)  # fmt: skip
                results[f"{documents} peers"] = theirs
                _print_peers(rows, theirs)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
