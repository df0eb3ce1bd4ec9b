"""Snapshot cost on the demo site: memory against site size, time against change (issues 9).

Two claims, measured on the bundled demo site (tiny real files, so the record and file
counts dominate) with the real command line in child processes:

* **memory does not grow with documents**: first, no-change and night snapshots of a small
  and a large site (2,000 and 20,000 documents); target: every peak RSS of the large site
  within 1.2x of the small site's;
* **record cost follows change**: on the small site, a no-change snapshot takes under 1 s and
  a 1%-change night (``generate night``) under 1.5 s *beyond start-up*. Start-up is measured
  in the same run as a child that boots the site as the command does (interpreter, the
  snapexport CLI's imports, ``connect_site``: ``django.setup()`` with the demo settings and
  the profile check), next to a bare ``django.setup()``.

Peak RSS and CPU come from the kernel's rusage of each child (``os.wait4``); every figure
is the median of ``--repeat`` runs (each repeat of a night is a new night). Prints tables and
writes one JSON file::

    python tools/bench_snapshot.py                      # 2,000 and 20,000 documents
    python tools/bench_snapshot.py --small 200 --large 2000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "bench"))  # proc.py: one measured child (time, CPU, RSS)

from harness import (  # noqa: E402
    add_common_args,
    log,
    print_verdicts,
    verdict,
    work_folder,
    write_results,
)
from proc import Run, run, tree_bytes, tree_files  # noqa: E402

SETTINGS = "snapexport.demo.settings"
RSS_LIMIT = 1.2
NO_CHANGE_LIMIT = 1.0  # seconds beyond start-up, small site
NIGHT_LIMIT = 1.5
_DJANGO_ONLY = "import django; django.setup()"
_SITE_BOOT = (
    "import snapexport.cli.snapshot, snapexport.store;"
    " from snapexport.source import connect_site;"
    f" connect_site({SETTINGS!r}, [], None).info()"
)


class Site:
    """One demo site and its store, driven through the command line."""

    def __init__(self, work: Path, documents: int, seed: int) -> None:
        self.documents = documents
        self.seed = seed
        self.folder = work / f"site-{documents}"
        self.store = work / f"store-{documents}"
        self.nights = 0

    def env(self) -> dict[str, str]:
        return {"SNAPEXPORT_DEMO_DIR": str(self.folder), "DJANGO_SETTINGS_MODULE": SETTINGS}

    def generate(self, *args: str) -> Run:
        return run([sys.executable, "-m", "snapexport.demo.generate", *args])

    def create(self) -> Run:
        shutil.rmtree(self.folder, ignore_errors=True)
        shutil.rmtree(self.store, ignore_errors=True)
        made = self.generate(
            "create", str(self.folder), "--documents", str(self.documents), "--seed", str(self.seed)
        )
        self.cli("init", "--store", str(self.store))
        return made

    def night(self) -> Run:
        self.nights += 1
        return self.generate(
            "night", str(self.folder), "--seed", str(self.seed * 1000 + self.nights)
        )

    def cli(self, *args: str) -> Run:
        return run([sys.executable, "-m", "snapexport", *args], env=self.env())

    def snapshot(self) -> tuple[Run, dict[str, Any]]:
        done = self.cli("snapshot", "--store", str(self.store), "--settings", SETTINGS, "--json")
        return done, json.loads(done.stdout)

    def boot(self, code: str) -> Run:
        return run([sys.executable, "-c", code], env=self.env())


def _figures(runs: list[tuple[Run, dict[str, Any] | None]]) -> dict[str, Any]:
    """Medians of wall time, CPU, peak RSS (and the snapshot's own seconds) over repeats."""
    out: dict[str, Any] = {
        "seconds": statistics.median(r.seconds for r, _ in runs),
        "cpu": statistics.median(r.user + r.system for r, _ in runs),
        "rss_mb": statistics.median(r.rss_kb / 1024 for r, _ in runs),
        "runs": [round(r.seconds, 3) for r, _ in runs],
    }
    summaries = [s for _, s in runs if s is not None]
    if summaries:
        out["in_snapshot"] = statistics.median(float(s["seconds"]) for s in summaries)
        out["records"] = summaries[-1]["records"]
        out["files_read"] = summaries[-1]["files_read"]
        out["files_skipped"] = summaries[-1]["files_skipped"]
    return out


def _repeat(n: int, action: Callable[[], tuple[Run, dict[str, Any] | None]]) -> dict[str, Any]:
    return _figures([action() for _ in range(n)])


def measure_site(site: Site, repeat: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Create the site; time start-up, the first, no-change and night snapshots."""
    log(f"{site.documents} documents: creating the demo site")
    created = site.create()
    result: dict[str, Any] = {
        "documents": site.documents,
        "create_seconds": created.seconds,
        "files": tree_files(site.folder / "media"),
        "media_bytes": tree_bytes(site.folder / "media"),
    }
    log(f"{site.documents} documents: start-up")
    result["django_setup"] = _repeat(max(repeat, 3), lambda: (site.boot(_DJANGO_ONLY), None))
    result["site_boot"] = _repeat(max(repeat, 3), lambda: (site.boot(_SITE_BOOT), None))
    log(f"{site.documents} documents: first snapshot")
    result["first"] = _figures([site.snapshot()])
    log(f"{site.documents} documents: no-change snapshots")
    result["no_change"] = _repeat(repeat, site.snapshot)

    def night() -> tuple[Run, dict[str, Any]]:
        site.night()
        return site.snapshot()

    log(f"{site.documents} documents: nights")
    result["night"] = _repeat(repeat, night)
    result["catalog_bytes"] = tree_bytes(site.store / "catalog.sqlite")
    return result


def report(small: dict[str, Any], large: dict[str, Any]) -> tuple[str, dict[str, bool]]:
    """Markdown tables and the targets' verdicts."""
    met: dict[str, bool] = {}
    lines = [
        f"| run | s at {small['documents']:,} | s at {large['documents']:,}"
        f" | peak RSS MB at {small['documents']:,} | at {large['documents']:,} | ratio"
        f" | <= {RSS_LIMIT} |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for key, name in (
        ("django_setup", "django.setup() alone"),
        ("site_boot", "site boot (CLI imports + connect_site)"),
        ("first", "first snapshot"),
        ("no_change", "no-change snapshot"),
        ("night", "snapshot after a night"),
    ):
        a, b = small[key], large[key]
        ratio = b["rss_mb"] / a["rss_mb"]
        mark = ""
        if key in ("first", "no_change", "night"):
            met[f"rss {key}"] = ratio <= RSS_LIMIT
            mark = verdict(ratio <= RSS_LIMIT)
        lines.append(
            f"| {name} | {a['seconds']:.2f} | {b['seconds']:.2f} | {a['rss_mb']:.0f}"
            f" | {b['rss_mb']:.0f} | {ratio:.2f} | {mark} |"
        )
    boot = small["site_boot"]["seconds"]
    django_only = small["django_setup"]["seconds"]
    lines += [
        "",
        f"| {small['documents']:,} documents | wall s | in take_snapshot s | beyond site boot"
        " | beyond django.setup() | target | | CPU s | CPU beyond site boot |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for key, name, limit in (
        ("first", "first snapshot", None),
        ("no_change", "no-change snapshot", NO_CHANGE_LIMIT),
        ("night", "1%-change night", NIGHT_LIMIT),
    ):
        f = small[key]
        beyond = f["seconds"] - boot
        mark = ""
        if limit is not None:
            met[f"time {key}"] = beyond < limit
            mark = verdict(beyond < limit)
        lines.append(
            f"| {name} | {f['seconds']:.2f} | {f['in_snapshot']:.2f} | {beyond:.2f}"
            f" | {f['seconds'] - django_only:.2f} | {'' if limit is None else f'< {limit}'}"
            f" | {mark} | {f['cpu']:.2f} | {f['cpu'] - small['site_boot']['cpu']:.2f} |"
        )
    return "\n".join(lines), met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000, help="documents of the small site")
    parser.add_argument("--large", type=int, default=20000, help="documents of the large site")
    add_common_args(
        parser, repeat=3, repeat_help="runs per figure (median)",
        results=HERE / "results" / "bench_snapshot.json",
    )  # fmt: skip
    args = parser.parse_args()
    with work_folder(args.dir, "bench-snapshot-") as work:
        small = measure_site(Site(work, args.small, args.seed), args.repeat, log)
        large = measure_site(Site(work, args.large, args.seed), args.repeat, log)
    table, met = report(small, large)
    print_verdicts(table, met)
    write_results(args.json, {"small": small, "large": large, "targets": met, "table": table})


if __name__ == "__main__":
    main()
