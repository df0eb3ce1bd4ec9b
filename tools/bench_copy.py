"""``snapexport copy`` night after night, against ``restic copy`` (issue 19).

A demo site (``--documents``, default 10,000) lives ``--nights`` nights (default 30; each a
``generate night``). Every night the site is snapshotted into store A and then copied into a
second local store B with ``snapexport copy``; alongside, the same site folder is backed up
with ``restic backup`` into repository RA and copied into RB with ``restic copy`` (RB made
with ``--copy-chunker-params``, so both sides deduplicate alike). Measured per night, with
the real command lines in child processes:

* bytes: what the copy added to B's pack folder against what the night added to A's (the
  claim: a copy sends only the night's new content), and the same for RB against RA;
* time (wall and CPU) of ``snapexport copy`` against ``restic copy``.

The two tools store different things (snapexport: the exporter's records and the document
files; restic: the site's database file and media folder), so bytes are compared within
each tool (copy against its own backup) and time across tools. Timings need a quiet
machine. ::

    python tools/bench_copy.py                                  # 10,000 documents, 30 nights
    python tools/bench_copy.py --documents 500 --nights 3 --no-restic
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "bench"))

from harness import add_common_args, log, print_verdicts, work_folder, write_results  # noqa: E402
from proc import Run, run, tree_bytes  # noqa: E402

SETTINGS = "snapexport.demo.settings"
SLACK = 64 * 1024  # pack headers and indexes per copied night


def _cli(*args: str | Path, env: dict[str, str] | None = None) -> Run:
    return run([sys.executable, "-m", "snapexport", *map(str, args)], env=env)


def _restic(*args: str | Path, env: dict[str, str]) -> Run:
    return run(["restic", *map(str, args)], env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--nights", type=int, default=30)
    parser.add_argument("--no-restic", action="store_true", help="leave restic out")
    add_common_args(parser, repeat=1, repeat_help="(unused: every night is one sample)",
                    results=HERE / "bench" / "results" / "copy.json")  # fmt: skip
    args = parser.parse_args()
    with_restic = not args.no_restic and shutil.which("restic") is not None
    if not args.no_restic and not with_restic:
        log("restic is not installed: measuring snapexport alone")
    with work_folder(args.dir, "bench-copy-") as work:
        results = _bench(work, args, with_restic)
    nights = results["nights"]
    lines = ["night  A added   B added  copy s   RA added  RB added  restic copy s"]
    for n in nights:
        r = n.get("restic", {})
        lines.append(
            f"{n['night']:>5} {n['a_added']:>9} {n['b_added']:>9} {n['copy_seconds']:>7.2f}"
            f" {r.get('ra_added', 0):>10} {r.get('rb_added', 0):>9}"
            f" {r.get('copy_seconds', 0.0):>14.2f}"
        )
    later = nights[1:] or nights
    sends_only_new = all(n["b_added"] <= n["a_added"] * 1.05 + SLACK for n in later)
    met = {"copy adds to B only what the night added to A (5% + 64 KiB)": sends_only_new}
    copy_med = statistics.median(n["copy_seconds"] for n in later)
    lines.append(f"median nightly copy: snapexport {copy_med:.2f} s")
    if with_restic:
        restic_med = statistics.median(n["restic"]["copy_seconds"] for n in later)
        lines.append(f"median nightly copy: restic {restic_med:.2f} s"
                     f" (snapexport / restic: {copy_med / restic_med:.2f}x)")  # fmt: skip
        results["ratio_copy_seconds"] = copy_med / restic_med
    results["met"] = met
    print_verdicts("\n".join(lines), met)
    write_results(args.json, results)
    return 0 if all(met.values()) else 1


def _bench(work: Path, args: argparse.Namespace, with_restic: bool) -> dict[str, Any]:
    site, a, b = work / "site", work / "A", work / "B"
    ra, rb = work / "RA", work / "RB"
    env = {"SNAPEXPORT_DEMO_DIR": str(site), "DJANGO_SETTINGS_MODULE": SETTINGS}
    log(f"creating a {args.documents}-document demo site")
    gen = [sys.executable, "-m", "snapexport.demo.generate"]
    run([*gen, "create", site, "--documents", str(args.documents), "--seed", str(args.seed)])
    _cli("init", "--store", a)
    _cli("init", "--store", b)
    renv = dict(os.environ)
    if with_restic:
        secret = work / "restic-password"
        secret.write_text("bench\n")
        renv.update(RESTIC_PASSWORD_FILE=str(secret))
        _restic("-r", ra, "init", env=renv)
        _restic("-r", rb, "init", "--from-repo", ra, "--from-password-file", secret,
                "--copy-chunker-params", env=renv)  # fmt: skip
    nights: list[dict[str, Any]] = []
    for night in range(args.nights + 1):
        if night:
            run([*gen, "night", site, "--seed", str(args.seed + night)])
        before_a, before_b = tree_bytes(a / "packs"), tree_bytes(b / "packs")
        snap = _cli("snapshot", "--store", a, "--json", env=env)
        copy = _cli("copy", "--store", a, "--to", b, "--json")
        out = json.loads(copy.stdout)
        row: dict[str, Any] = {
            "night": night,
            "a_added": tree_bytes(a / "packs") - before_a,
            "b_added": tree_bytes(b / "packs") - before_b,
            "snapshot_seconds": snap.seconds,
            "copy_seconds": copy.seconds,
            "copy_cpu": copy.user + copy.system,
            "copy_rss_kb": copy.rss_kb,
            "copy_bytes_read": out["bytes_read"],
            "copy_bytes_stored": out["bytes_stored"],
        }
        if with_restic:
            ra0, rb0 = tree_bytes(ra), tree_bytes(rb)
            _restic("-r", ra, "backup", "-q", site, env=renv)
            rcopy = _restic("-r", rb, "copy", "--from-repo", ra, "--from-password-file",
                            renv["RESTIC_PASSWORD_FILE"], "-q", env=renv)  # fmt: skip
            row["restic"] = {
                "ra_added": tree_bytes(ra) - ra0,
                "rb_added": tree_bytes(rb) - rb0,
                "copy_seconds": rcopy.seconds,
                "copy_cpu": rcopy.user + rcopy.system,
                "copy_rss_kb": rcopy.rss_kb,
            }
        log(f"night {night}: A +{row['a_added']} B +{row['b_added']}"
            f" copy {row['copy_seconds']:.2f}s")  # fmt: skip
        nights.append(row)
    return {"documents": args.documents, "nights": nights, "restic": with_restic}


if __name__ == "__main__":
    raise SystemExit(main())
