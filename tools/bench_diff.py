"""How long ``snapexport diff`` takes on a large site, and how much memory it needs.

Builds a real store whose catalog describes a paperless site of ``--documents`` documents
(plus notes, custom-field instances, tags, correspondents and three files per document)
by inserting spans directly, then a second snapshot with ``--changed`` (default 1 %) of
the documents edited, a few added, removed and trashed, notes added and files changed.
Times ``diff_snapshots`` as a library call and the CLI (``--stat`` and the full listing as
JSON) in fresh processes, each with its peak RSS. With ``--small`` the same number of
changes is also measured on a site a tenth the size: equal RSS shows that memory follows
the changes, not the unchanged records.

    python tools/bench_diff.py [--documents 100000] [--changed 1000] [--small] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import blake3
import zstandard

from snapexport.catalog import snapshots as snaps
from snapexport.store import Store
from snapexport.values import SnapshotMeta

SECTIONS = [
    "documents.correspondent",
    "documents.tag",
    "documents.customfield",
    "documents.customfieldinstance",
    "documents.note",
    "documents.document",
]
WORDS = [
    "invoice",
    "letter",
    "contract",
    "statement",
    "receipt",
    "report",
    "tax",
    "loan",
    "mortgage",
    "bank",
]
_cctx = zstandard.ZstdCompressor(level=3)

LIBRARY_CALL = """
import json, sys, time
from snapexport.diff import diff_snapshots
from snapexport.store import Store
t = time.perf_counter()
with Store.open(sys.argv[1]) as store:
    snaps = store.catalog.snapshots
    a, b = snaps.resolve("latest~1"), snaps.resolve("latest")
    result = diff_snapshots(store.catalog.changes, a, b)
took = time.perf_counter() - t
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(json.dumps({"seconds": took, "rss_kb": int(status), "changes": len(result.changes)}))
"""


class Builder:
    """Inserts record texts and spans straight into a store's catalog."""

    def __init__(self, store: Store, rng: random.Random) -> None:
        self.conn = store.catalog.conn
        self.rng = rng
        self.next_id = 1
        self.texts: list[tuple[bytes, bytes]] = []
        self.spans: list[tuple[Any, ...]] = []
        self.files: list[tuple[Any, ...]] = []

    def record(self, model: str, pk: int, fields: dict[str, Any], born: int) -> None:
        text = json.dumps(
            {"model": model, "pk": pk, "fields": fields}, indent=2, ensure_ascii=False
        ).encode()
        h = blake3.blake3(text).digest()
        self.texts.append((h, _cctx.compress(text)))
        key = pk.to_bytes(8, "big")
        self.spans.append((model, json.dumps(pk), h, h[:16], key, None, born, None))

    def file(self, path: str, role: str, pk: int, salt: int, born: int) -> None:
        blob = blake3.blake3(f"{path}:{salt}".encode()).digest()
        size = 10_000 + (pk * 7919 + salt) % 90_000
        self.files.append(
            (path, role, "documents.document", json.dumps(pk), blob, size, 0, 0o644, born)
        )

    def flush(self) -> None:
        c = self.conn
        c.executemany("INSERT OR IGNORE INTO record_data (hash, data) VALUES (?, ?)", self.texts)
        # model labels are numbers in schema 4 (models), numbered on first use
        labels = sorted({s[0] for s in self.spans} | {f[2] for f in self.files})
        c.executemany("INSERT OR IGNORE INTO models (name) VALUES (?)", [(n,) for n in labels])
        c.executemany(
            "INSERT INTO record_spans (model, pk, hash, fingerprint, sort_key, extra, born, died)"
            " VALUES ((SELECT id FROM models WHERE name = ?), ?, ?, ?, ?, ?, ?, ?)",
            self.spans,
        )
        c.executemany(
            "INSERT INTO file_spans (path, role, owner_model, owner_pk, blob, size, mtime_ns,"
            " mode, born) VALUES (?, ?, (SELECT id FROM models WHERE name = ?), ?, ?, ?, ?, ?, ?)",
            self.files,
        )
        self.texts, self.spans, self.files = [], [], []

    def retire(self, model: str, pk: int, seq: int) -> dict[str, Any]:
        """End the current span of a record at ``seq``; returns its fields."""
        row = self.conn.execute(
            "SELECT s.id, d.data FROM record_spans s JOIN record_data d ON d.hash = s.hash"
            " WHERE s.model = (SELECT id FROM models WHERE name = ?) AND s.pk = ?"
            " AND s.died IS NULL",
            (model, json.dumps(pk)),
        ).fetchone()
        self.conn.execute("UPDATE record_spans SET died = ? WHERE id = ?", (seq, row[0]))
        fields: dict[str, Any] = json.loads(zstandard.decompress(row[1]))["fields"]
        return fields

    def retire_file(self, path: str, seq: int) -> None:
        self.conn.execute(
            "UPDATE file_spans SET died = ? WHERE path = ? AND died IS NULL", (seq, path)
        )


def _doc_fields(rng: random.Random, pk: int, n_corr: int, n_tags: int) -> dict[str, Any]:
    title = " ".join(rng.choice(WORDS) for _ in range(3)).title() + f" {pk}"
    content = " ".join(rng.choice(WORDS) for _ in range(150))
    return {
        "correspondent": rng.randint(1, n_corr),
        "storage_path": None,
        "title": title,
        "document_type": None,
        "content": content,
        "mime_type": "application/pdf",
        "checksum": blake3.blake3(f"o{pk}".encode()).hexdigest(),
        "archive_checksum": blake3.blake3(f"a{pk}".encode()).hexdigest(),
        "page_count": 1,
        "created": "2024-01-01",
        "modified": "2024-01-01T09:00:00Z",
        "added": "2024-01-01T09:00:00Z",
        "filename": f"{pk:07}.pdf",
        "archive_filename": f"{pk:07}.pdf",
        "original_filename": f"scan {pk}.pdf",
        "archive_serial_number": None,
        "deleted_at": None,
        "restored_at": None,
        "transaction_id": None,
        "owner": None,
        "tags": sorted(rng.sample(range(1, n_tags + 1), 3)),
    }


def build(root: Path, documents: int, changed: int, seed: int = 1) -> Path:
    """A store with two snapshots of a ``documents``-document site; returns its path."""
    rng = random.Random(seed)
    path = root / f"store-{documents}"
    n_corr, n_tags = 200, 60
    t0 = time.perf_counter()
    with Store.init(path) as store:
        b = Builder(store, rng)
        conn = store.catalog.conn
        conn.execute("BEGIN")
        for pk in range(1, n_corr + 1):
            b.record("documents.correspondent", pk, {"name": f"Correspondent {pk}"}, 1)
        for pk in range(1, n_tags + 1):
            b.record("documents.tag", pk, {"name": f"Tag {pk}", "color": "#a6cee3"}, 1)
        for pk in range(1, 6):
            b.record("documents.customfield", pk, {"name": f"Field {pk}"}, 1)
        note_pk = cfi_pk = 0
        for pk in range(1, documents + 1):
            b.record("documents.document", pk, _doc_fields(rng, pk, n_corr, n_tags), 1)
            for role, folder in (("original", "originals"), ("archive", "archive")):
                b.file(f"documents/{folder}/{pk:07}.pdf", role, pk, 0, 1)
            b.file(f"documents/thumbnails/{pk:07}.webp", "thumbnail", pk, 0, 1)
            for _ in range(pk % 3):
                note_pk += 1
                b.record("documents.note", note_pk, {"note": f"note {note_pk}", "document": pk}, 1)
            for field in range(1, 1 + pk % 4):
                cfi_pk += 1
                fields = {"document": pk, "field": field, "value_text": f"v{cfi_pk}"}
                b.record("documents.customfieldinstance", cfi_pk, fields, 1)
            if pk % 5000 == 0:
                b.flush()
        b.flush()
        _snapshot(conn, 1, datetime(2024, 1, 1, tzinfo=UTC), documents)
        conn.execute("COMMIT")
        built = time.perf_counter() - t0

        conn.execute("BEGIN")
        edited = rng.sample(range(1, documents + 1), changed)
        for i, pk in enumerate(edited):
            fields = b.retire("documents.document", pk, 2)
            kind = i % 10
            if kind == 0:  # removed
                for folder, ext in (
                    ("originals", "pdf"),
                    ("archive", "pdf"),
                    ("thumbnails", "webp"),
                ):
                    b.retire_file(f"documents/{folder}/{pk:07}.{ext}", 2)
                continue
            if kind == 1:
                fields["deleted_at"] = "2024-01-02T09:00:00Z"
            elif kind == 2:
                fields["checksum"] = blake3.blake3(f"o{pk}x".encode()).hexdigest()
                b.retire_file(f"documents/originals/{pk:07}.pdf", 2)
                b.file(f"documents/originals/{pk:07}.pdf", "original", pk, 1, 2)
            elif kind in (3, 4, 5):
                fields["tags"] = sorted(rng.sample(range(1, n_tags + 1), 2))
            else:
                fields["title"] += " (edited)"
            fields["modified"] = "2024-01-02T09:00:00Z"
            b.record("documents.document", pk, fields, 2)
            if kind == 6:
                note_pk += 1
                b.record("documents.note", note_pk, {"note": "new", "document": pk}, 2)
        for pk in range(documents + 1, documents + 1 + changed // 10):
            b.record("documents.document", pk, _doc_fields(rng, pk, n_corr, n_tags), 2)
            b.file(f"documents/originals/{pk:07}.pdf", "original", pk, 0, 2)
        b.flush()
        _snapshot(conn, 2, datetime(2024, 1, 2, tzinfo=UTC), documents)
        conn.execute("COMMIT")
    counts = {
        "record spans": _count(path, "record_spans"),
        "file spans": _count(path, "file_spans"),
    }
    print(
        f"built {documents} documents ({counts['record spans']} record spans,"
        f" {counts['file spans']} file spans) in {built:.1f}s; {changed} documents changed"
    )
    return path


def _count(path: Path, table: str) -> int:
    with Store.open(path) as store:
        return int(store.catalog.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _snapshot(conn: Any, seq: int, moment: datetime, documents: int) -> None:
    meta = SnapshotMeta(
        id=blake3.blake3(f"snapshot {seq} {documents}".encode()).hexdigest(),
        seq=seq,
        time=moment + timedelta(hours=seq),
        host="bench",
        profile="paperless",
        tags=(),
        complete=True,
        info={"sections": SECTIONS, "site_version": "3.0.5", "time_zone": "UTC"},
    )
    snaps.insert_snapshot(conn, meta)


def _run(args: list[str]) -> tuple[float, str]:
    """Run a child; its wall time and stdout."""
    t = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{args}: {done.stderr}")
    return time.perf_counter() - t, done.stdout


def measure(path: Path) -> dict[str, Any]:
    lib = json.loads(_run([sys.executable, "-c", LIBRARY_CALL, str(path)])[1])
    cli = [sys.executable, "-m", "snapexport", "diff", "--store", str(path), "latest~1", "latest"]
    stat_s, stat_out = _run([*cli, "--stat"])
    json_s, json_out = _run([*cli, "--json"])
    full_s, _ = _run([*cli, "--fields"])
    return {
        "library_s": lib["seconds"],
        "library_rss_mb": lib["rss_kb"] / 1024,
        "changes": lib["changes"],
        "cli_stat_s": stat_s,
        "cli_json_s": json_s,
        "cli_fields_s": full_s,
        "summary": [line for line in stat_out.splitlines() if line.startswith("documents:")],
        "json_bytes": len(json_out),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--changed", type=int, help="documents changed (default 1 %%)")
    parser.add_argument("--small", action="store_true", help="also a site a tenth the size")
    parser.add_argument("--keep", type=Path, help="build the stores here and keep them")
    args = parser.parse_args()
    changed = args.changed or max(1, args.documents // 100)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-diff-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        sizes = [args.documents] + ([args.documents // 10] if args.small else [])
        for documents in sizes:
            path = build(root, documents, changed)
            m = measure(path)
            print(
                f"{documents} documents, {changed} changed ({m['changes']} changes listed):"
                f" library {m['library_s']:.2f}s, peak RSS {m['library_rss_mb']:.0f} MB;"
                f" CLI --stat {m['cli_stat_s']:.2f}s, --json {m['cli_json_s']:.2f}s"
                f" ({m['json_bytes'] / 1e6:.1f} MB), --fields {m['cli_fields_s']:.2f}s"
                " (CLI figures include Python start-up)"
            )
            for line in m["summary"]:
                print(f"  {line}")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
