"""What a night costs the store in catalog bytes (issue #15), and how fast a catalog rebuilds.

On a demo site of N documents (default 5,000), with the real CLI in subprocesses:

* the first snapshot (pack bytes, the journal entry it wrote);
* an unchanged snapshot: pack bytes added (target at most 64 KiB);
* a demo night (``python -m snapexport.demo.generate night``) and its snapshot: pack bytes
  added, content included (target at most 512 KiB at 5,000 documents);
* the local catalog's size after those (target at most 10 MB at 5,000 documents), and its
  record texts' share;
* ``rebuild-catalog`` of a copy of the store from its packs alone: seconds, and whether
  every snapshot then materializes byte for byte as before (``--verify``).

Byte figures do not depend on the machine's load; the rebuild time does (quote it only from
a quiet machine).

    python tools/bench_journal.py                       # 5,000 documents
    python tools/bench_journal.py --documents 10000 --nights 30 --verify
    python tools/bench_journal.py --json results.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

KIB = 1024
SETTINGS = "snapexport.demo.settings"


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SNAPEXPORT_FAULT"}
    env["SNAPEXPORT_DEMO_DIR"] = str(site)
    return env


def _run(*args: str | Path, site: Path) -> str:
    done = subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, env=_env(site)
    )
    if done.returncode != 0:
        raise SystemExit(f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


def _cli(*args: str | Path, site: Path) -> str:
    return _run("-m", "snapexport", *args, site=site)


def pack_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "packs").rglob("*") if p.is_file())


def catalog_bytes(store: Path) -> int:
    return sum(
        (store / name).stat().st_size
        for name in ("catalog.sqlite", "catalog.sqlite-wal")
        if (store / name).exists()
    )


def _catalog_facts(store: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{store / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        entries = conn.execute(
            "SELECT gen, kind, size FROM journal_entries ORDER BY gen"
        ).fetchall()
        record_bytes = conn.execute(
            "SELECT coalesce(sum(length(data)), 0) FROM record_data"
        ).fetchone()[0]
        documents = conn.execute(
            "SELECT count(*) FROM record_spans WHERE died IS NULL AND model ="
            " (SELECT id FROM models WHERE name = 'documents.document')"
        ).fetchone()[0]
    finally:
        conn.close()
    return {"entries": entries, "record_data_bytes": record_bytes, "documents": documents}


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _materialize_all(store: Path, site: Path, dest: Path) -> dict[str, str]:
    out = {}
    for snap in json.loads(_cli("snapshots", "--store", store, "--json", site=site)):
        target = dest / snap["id"][:12]
        target.mkdir(parents=True)
        _cli("materialize", "--store", store, snap["id"], target, site=site)
        out[snap["id"]] = _digest(target)
        shutil.rmtree(target)
    return out


def _snapshot(store: Path, site: Path) -> int:
    before = pack_bytes(store)
    _cli("snapshot", "--store", store, "--settings", SETTINGS, site=site)
    return pack_bytes(store) - before


def measure(documents: int, nights: int, work: Path, *, verify: bool) -> dict[str, Any]:
    site, store = work / "site", work / "store"
    t = time.monotonic()
    _run("-m", "snapexport.demo.generate", "create", site, "--documents", str(documents),
         "--seed", "1", site=site)  # fmt: skip
    print(f"site of {documents} documents generated in {time.monotonic() - t:.0f} s")
    _cli("init", "--store", store, site=site)
    first = _snapshot(store, site)
    unchanged = _snapshot(store, site)
    night_bytes = []
    for n in range(nights):
        _run("-m", "snapexport.demo.generate", "night", site, "--seed", str(100 + n), site=site)
        night_bytes.append(_snapshot(store, site))
    facts = _catalog_facts(store)
    copy = work / "copy"
    shutil.copytree(store, copy)
    for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"):
        (copy / name).unlink(missing_ok=True)
    t = time.monotonic()
    _cli("rebuild-catalog", "--store", copy, site=site)
    rebuild_s = time.monotonic() - t
    identical = None
    if verify:
        identical = _materialize_all(store, site, work / "m1") == _materialize_all(
            copy, site, work / "m2"
        )
    return {
        "documents": facts["documents"],
        "first_snapshot_pack_bytes": first,
        "unchanged_snapshot_pack_bytes": unchanged,
        "night_pack_bytes": night_bytes,
        "local_catalog_bytes": catalog_bytes(store),
        "record_data_bytes": facts["record_data_bytes"],
        "journal_entries": facts["entries"],
        "rebuild_seconds": round(rebuild_s, 2),
        "rebuild_identical": identical,
    }


def render(r: dict[str, Any]) -> str:
    nights = r["night_pack_bytes"]
    lines = [
        f"documents                      {r['documents']:>12,}",
        f"first snapshot, pack bytes     {r['first_snapshot_pack_bytes']:>12,}",
        f"unchanged snapshot, pack bytes {r['unchanged_snapshot_pack_bytes']:>12,}"
        f"   target <= {64 * KIB:,}",
    ]
    if nights:
        median = sorted(nights)[len(nights) // 2]
        more = f" (median of {len(nights)}: {median:,})" if len(nights) > 1 else ""
        lines.append(
            f"demo night, pack bytes         {nights[0]:>12,}   target <= {512 * KIB:,}{more}"
        )
    lines += [
        f"local catalog bytes            {r['local_catalog_bytes']:>12,}   target <= 10,000,000",
        f"  of which record texts        {r['record_data_bytes']:>12,}",
        f"journal entries (gen, kind, plain bytes): {r['journal_entries']}",
        f"rebuild-catalog from packs     {r['rebuild_seconds']:>12} s (needs a quiet machine)",
    ]
    if r["rebuild_identical"] is not None:
        lines.append(f"every snapshot identical after rebuild: {r['rebuild_identical']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--nights", type=int, default=1)
    parser.add_argument("--verify", action="store_true",
                        help="materialize every snapshot before and after the rebuild")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = measure(args.documents, args.nights, args.keep, verify=args.verify)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
            result = measure(args.documents, args.nights, Path(tmp), verify=args.verify)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
