"""``--rss-scaling``: snapexport's peak RSS on a small and a large site of small files.

Memory must not grow with the number of documents: every command streams. Both sites are
the demo's own (tiny files, so the record and file counts dominate); each gets a first
snapshot, a night, a second snapshot, a zip and a folder materialize, a diff, the
single-document commands (find, ls, history, restore, check of a quarter) and a prune.
The target: on the large site, every command's peak RSS within 1.3x of the small site's.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchsite import BenchSite, NightShape, SizeModel
from contenders import Snapexport
from proc import Run, tree_bytes, tree_files

LIMIT = 1.3
FIRST = "2025-01-01T02:00:00+00:00"
SECOND = "2025-01-02T02:00:00+00:00"


def _commands(ours: Snapexport, out: Path) -> list[tuple[str, Callable[[], Run]]]:
    from datetime import datetime

    def folder() -> Run:
        shutil.rmtree(out, ignore_errors=True)
        return ours.materialize_dir(out)

    def restored() -> Run:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        return ours.documents("restore", "--document", "42", str(out))

    def zipped() -> Run:
        shutil.rmtree(out, ignore_errors=True)
        return ours.materialize_zip(out)

    return [
        ("first snapshot", lambda: ours.backup(datetime.fromisoformat(FIRST))),
        ("night", lambda: ours.site.night(1)),
        ("second snapshot", lambda: ours.backup(datetime.fromisoformat(SECOND))),
        ("materialize --zip", zipped),
        ("materialize (folder)", folder),
        ("diff", ours.diff),
        # Single documents (issue 18): the first of these builds the document index.
        ("find (index built)", lambda: ours.documents("find", "scan_00042")),
        ("ls", lambda: ours.documents("ls")),
        ("history", lambda: ours.documents("history", "42")),
        ("restore", restored),
        ("check 1/4", lambda: ours.documents("check", "--read-data-subset", "1/4")),
        ("prune", lambda: ours.prune(1)[0]),
    ]


def rss_scaling(work: Path, small: int, large: int, seed: int, log: Any) -> dict[str, Any]:
    """Run every command on both sites; peak RSS and time per command and the ratios."""
    figures: dict[int, dict[str, dict[str, float]]] = {}
    sites: dict[int, dict[str, int]] = {}
    for documents in (small, large):
        site = BenchSite(
            work / f"site-{documents}", documents, seed, SizeModel(kind="demo"), NightShape()
        )
        log(f"rss: creating a demo site of {documents} documents")
        site.create()
        sites[documents] = {
            "documents": site.document_count(),
            "files": tree_files(site.media),
            "media_bytes": tree_bytes(site.media),
        }
        ours = Snapexport(site, work / f"store-{documents}")
        ours.init()
        figures[documents] = {}
        for name, action in _commands(ours, work / "out"):
            done = action()
            if name == "night":
                continue
            figures[documents][name] = {"seconds": done.seconds, "rss_mb": done.rss_kb / 1024}
            mb = done.rss_kb / 1024
            log(f"rss: {documents} documents, {name}: {done.seconds:.1f}s, {mb:.0f} MB")
        shutil.rmtree(work / "out", ignore_errors=True)
        shutil.rmtree(site.folder)
    rows = []
    met = True
    for name in figures[small]:
        a, b = figures[small][name], figures[large][name]
        ratio = b["rss_mb"] / a["rss_mb"]
        met = met and ratio <= LIMIT
        rows.append(
            f"| {name} | {a['rss_mb']:.0f} | {b['rss_mb']:.0f} | {ratio:.2f} |"
            f" {'met' if ratio <= LIMIT else 'MISS'} | {a['seconds']:.1f} | {b['seconds']:.1f} |"
        )
    head = (
        f"| command | peak RSS MB at {small:,} | at {large:,} | ratio | <= {LIMIT} |"
        f" s at {small:,} | s at {large:,} |\n|---|---:|---:|---:|---|---:|---:|"
    )
    return {
        "small": small,
        "large": large,
        "sites": sites,
        "figures": {str(k): v for k, v in figures.items()},
        "met": met,
        "table": head + "\n" + "\n".join(rows),
    }
