"""snapexport against the tools users would pick instead, on the same site, in one run.

    python tools/bench/run.py                    # 10,000 documents, 30 nights (~20-30 min)
    python tools/bench/run.py --quick            # 1,000 documents, 7 nights (< 3 min)
    python tools/bench/run.py --rss-scaling      # peak RSS at 2,000 vs 100,000 documents

Builds a realistic site on the demo app (``benchsite.py``), measures the machine's limits
on its bytes (``limits.py``), then runs side by side, night after night on the same site:
snapexport; a full ``zip -r -6`` export every night; a data-only dump followed by restic;
the same dump followed by borg (``contenders.py``). Prints one table with the ratios and
the targets, and writes it as JSON (``results/latest.json``) plus a plot of store size
over the nights (``docs/img/bench-store-size.png``). Needs ``restic``, ``borg``, ``zip``,
``zstd`` and ``b3sum`` on PATH (``apt-get install -y restic borgbackup zip zstd b3sum``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import limits
from benchsite import BenchSite
from contenders import DUMP, Borg, FullExport, Restic, Snapexport
from proc import Run, run, tree_bytes, tree_files
from report import Results, Step, render, write_plot

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
FIRST_NIGHT = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
KEEP_DAILY = 7
NEEDED = {
    "restic": "restic",
    "borg": "borgbackup",
    "zip": "zip",
    "zstd": "zstd",
    "b3sum": "b3sum",
}


def night_time(number: int) -> datetime:
    """Night ``number``'s snapshot time: one calendar day apart (see snapclock.py)."""
    return FIRST_NIGHT + timedelta(days=number)


class Log:
    """Progress lines on stderr, with the time since the start."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.started:7.1f}s] {text}", file=sys.stderr, flush=True)


def check_tools() -> None:
    missing = [pkg for tool, pkg in NEEDED.items() if shutil.which(tool) is None]
    if missing:
        sys.exit(
            f"missing programs; install them with: apt-get update && apt-get install -y"
            f" {' '.join(missing)}"
        )


def versions() -> dict[str, str]:
    def first_line(*argv: str) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (done.stdout or done.stderr).strip().splitlines()[0]

    return {
        "python": platform.python_version(),
        "restic": first_line("restic", "version"),
        "borg": first_line("borg", "--version"),
        "zstd": first_line("zstd", "--version"),
        "zip": first_line("zip", "-v").split("(")[0].strip() if shutil.which("zip") else "",
        "b3sum": first_line("b3sum", "--version"),
        "cpus": str(os.cpu_count()),
        "memory_gb": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 1e9:.1f}",
        "kernel": platform.release(),
    }


def measured(results: Results, tool: str, step: str, done: Run | list[Run], **figures: Any) -> Step:
    runs = done if isinstance(done, list) else [done]
    entry = Step(
        tool=tool,
        step=step,
        seconds=sum(r.seconds for r in runs),
        rss_kb=max(r.rss_kb for r in runs),
        cpu=sum(r.user + r.system for r in runs),
        **figures,
    )
    results.steps.append(entry)
    return entry


def bench(args: argparse.Namespace, work: Path, log: Log) -> Results:
    results = Results(config=vars(args) | {"work": str(work)}, machine=versions())
    results.load = [os.getloadavg()[0]]
    site = BenchSite(work / "site", args.documents, args.seed)
    log(f"creating a site of {args.documents} documents in {site.folder}")
    created = site.create()
    media0 = tree_bytes(site.media)
    results.site = {
        "documents": site.document_count(),
        "files": tree_files(site.media),
        "media_bytes": media0,
        "generate_seconds": round(created.seconds, 1),
    }
    log(f"site: {results.site['files']} files, {media0 / 1e6:.0f} MB")

    log("limits: read, b3sum, zstd -3 -T0, write+fsync")
    for name, done in limits.single_pass(site.media, work / "scratch").items():
        measured(results, "limit", name, done, bytes=media0)
        log(f"  {name}: {done.seconds:.1f}s")

    ours = Snapexport(site, work / "snapexport.store")
    restic = Restic(site, work / "restic", work / "restic-cache")
    borg = Borg(site, work / "borg", work / "borg-home")
    for tool in (ours, restic, borg):
        tool.init()

    sizes: dict[str, list[int]] = {"snapexport": [], "restic": [], "borg": []}
    site_bytes: list[int] = []
    dump_bytes: list[int] = []
    for night in range(args.nights + 1):
        if night:
            site.night(night)
        moment = night_time(night)
        label = "first backup" if night == 0 else "night"
        media = tree_bytes(site.media)
        site_bytes.append(media)
        os.sync()
        dump = site.dump_data(site.folder / DUMP / "manifest.json")
        dump_bytes.append(tree_bytes(site.folder / DUMP))
        measured(results, "data-only dump", label, dump, bytes=media, night=night)
        line = [f"night {night:2}: dump {dump.seconds:.1f}s"]
        for tool in (ours, restic, borg):
            before = sizes[tool.name][-1] if sizes[tool.name] else 0
            os.sync()
            done = tool.backup(moment)
            size = tool.size()
            sizes[tool.name].append(size)
            runs = [done] if tool is ours else [dump, done]
            measured(
                results,
                tool.name,
                label,
                runs,
                bytes=media,
                size=size,
                added=size - before,
                night=night,
            )
            line.append(f"{tool.name} {sum(r.seconds for r in runs):.1f}s")
        if night == 0:
            # issue 20 holds the first snapshot to borg with lz4 too: its cheapest CPU
            lz4 = Borg(site, work / "borg-lz4", work / "borg-lz4-home", compression="lz4")
            lz4.init()
            os.sync()
            done = lz4.backup(moment)
            size = lz4.size()  # a walk of the repository: once
            measured(results, lz4.name, label, [dump, done], bytes=media, size=size, added=size,
                     night=night)  # fmt: skip
            line.append(f"{lz4.name} {dump.seconds + done.seconds:.1f}s")
            shutil.rmtree(lz4.repo)
            shutil.rmtree(lz4.home, ignore_errors=True)
        log(", ".join(line))

    log("full export of the last night (dumpdata, then zip -r -6)")
    os.sync()
    export_zip = work / "scratch" / "export.zip"
    dump, zipped = FullExport(site).export(export_zip)
    export_size = export_zip.stat().st_size
    export_zip.unlink()
    measured(
        results, "full export", "night", [dump, zipped], bytes=site_bytes[-1], size=export_size
    )
    measured(results, "limit", "zip -r -6", zipped, bytes=site_bytes[-1])
    log(f"  dumpdata {dump.seconds:.1f}s, zip -r -6 {zipped.seconds:.1f}s")
    done = limits.copy(site.media, work / "scratch")
    measured(results, "limit", "cp -r", done, bytes=site_bytes[-1])
    log(f"  cp -r {done.seconds:.1f}s")
    # One export a night: each night's zip scales with that night's files and manifest.
    total = site_bytes[-1] + dump_bytes[-1]
    nightly = [export_size * (m + d) / total for m, d in zip(site_bytes, dump_bytes, strict=True)]
    sizes["full export"] = [int(sum(nightly[: i + 1])) for i in range(len(nightly))]
    results.series = {"night": list(range(args.nights + 1)), **sizes}
    results.export_size = export_size

    # The disk's limit for a restore: read the stored bytes, write them durably.
    packs = ours.store / "packs"
    done = limits.copy(packs, work / "scratch", durable=True)
    measured(results, "limit", "cp -r packs + sync", done, bytes=tree_bytes(packs))
    log(f"  cp -r of snapexport's packs + sync {done.seconds:.1f}s")
    restore = work / "scratch" / "restore"
    for tool, step, action in (
        (ours, "materialize --zip", lambda: ours.materialize_zip(restore)),
        (ours, "materialize (folder)", lambda: ours.materialize_dir(restore)),
        (restic, "restore", lambda: restic.restore(restore)),
        (borg, "restore", lambda: borg.restore(restore)),
    ):
        shutil.rmtree(restore, ignore_errors=True)
        os.sync()
        done = action()
        # what it takes to make the restored bytes durable (restic and borg leave them to
        # the page cache; snapexport's folder materialize syncs before its manifest)
        synced = run(["sync"])
        written = tree_bytes(restore)
        measured(results, tool.name, step, done, bytes=site_bytes[-1], written=written,
                 sync_seconds=synced.seconds)  # fmt: skip
        log(f"{tool.name} {step}: {done.seconds:.1f}s (then sync {synced.seconds:.1f}s),"
            f" {written / 1e6:.0f} MB written")  # fmt: skip
    shutil.rmtree(restore, ignore_errors=True)

    for tool in (ours, restic, borg):
        os.sync()
        done = tool.diff()
        measured(results, tool.name, "diff last two", done, lines=done.stdout.count("\n"))
        log(f"{tool.name} diff: {done.seconds:.2f}s")
    for tool in (ours, restic, borg):
        os.sync()
        runs = tool.prune(KEEP_DAILY)
        size = tool.size()
        measured(results, tool.name, f"prune (keep-daily {KEEP_DAILY})", runs, size=size)
        log(f"{tool.name} prune: {sum(r.seconds for r in runs):.1f}s, {size / 1e6:.0f} MB left")
    results.kept = {
        "snapexport": ours.snapshot_count(),
        "restic": len(json.loads(run(["restic", "snapshots", "--json"], env=restic.env).stdout)),
        "borg": len(run(["borg", "list", "--short"], env=borg.env).stdout.split()),
    }
    results.load.append(os.getloadavg()[0])
    results.caches = {
        "restic cache": tree_bytes(restic.cache),
        "borg cache": tree_bytes(borg.home),
    }
    return results


def use_code(at: str, work: Path) -> str:
    """Put snapexport as of ``at`` first on every child's path; the commit it names.

    Other work in a shared checkout (uncommitted, maybe half-done) must not leak into the
    figures, so by default the children run ``git archive HEAD`` of the package.
    """
    git = ["git", "-C", str(REPO)]
    if at == "worktree":
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "snapexport"], capture_output=True, text=True
        ).stdout.strip()
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
        return head.stdout.strip() + ("-dirty" if dirty else "")
    commit = subprocess.run(
        [*git, "rev-parse", "--verify", f"{at}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    code = work / "code"
    code.mkdir()
    archive = subprocess.run(
        [*git, "archive", commit, "snapexport"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p
    )
    return commit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, help="documents (default 10000; quick 1000)")
    parser.add_argument("--nights", type=int, help="nights (default 30; quick 7)")
    parser.add_argument("--quick", action="store_true", help="a small run, under 3 minutes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--at",
        default="HEAD",
        help="benchmark snapexport as committed at this revision (default HEAD), or"
        " 'worktree' for the checkout as it is",
    )
    parser.add_argument("--work", type=Path, help="working folder (default: a temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    parser.add_argument("--json", type=Path, help="results file (default results/latest.json)")
    parser.add_argument("--plot", type=Path, help="plot file (default docs/img/... when full)")
    parser.add_argument(
        "--rss-scaling", action="store_true", help="peak RSS at --small vs --large documents"
    )
    parser.add_argument("--small", type=int, default=2000, help="--rss-scaling: small site")
    parser.add_argument("--large", type=int, default=100_000, help="--rss-scaling: large site")
    args = parser.parse_args()
    args.documents = args.documents or (1000 if args.quick else 10_000)
    args.nights = args.nights or (7 if args.quick else 30)
    check_tools()
    log = Log()
    work = args.work or Path(tempfile.mkdtemp(prefix="snapexport-bench-"))
    if args.work and any(work.iterdir() if work.exists() else ()):
        sys.exit(f"{work} is not empty")
    work.mkdir(parents=True, exist_ok=True)
    try:
        args.commit = use_code(args.at, work)
        if args.rss_scaling:
            from rss import rss_scaling

            out = rss_scaling(work, args.small, args.large, args.seed, log)
            path = args.json or HERE / "results" / "rss-scaling.json"
            path.write_text(json.dumps(out, indent=2) + "\n")
            print(out["table"])
            return
        results = bench(args, work, log)
        results.seconds = time.perf_counter() - log.started
        text = render(results)
        print(text)
        default = "quick.json" if args.quick else "latest.json"
        path = args.json or HERE / "results" / default
        path.write_text(json.dumps(results.as_json(), indent=2) + "\n")
        plot = args.plot or (None if args.quick else REPO / "docs" / "img" / "bench-store-size.png")
        if plot is not None:
            write_plot(results, plot)
        log(f"wrote {path}" + (f" and {plot}" if plot else ""))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
