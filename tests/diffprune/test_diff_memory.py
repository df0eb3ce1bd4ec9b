"""diff's memory follows one batch of changed records, not the whole change set (issue #6).

The catalog is built directly (schema + spans + zstd texts), so the test needs no demo
site: N documents whose title and correspondent changed between snapshots 1 and 2, each
carrying a large unchanged ``content`` field. Holding every changed record's decoded
fields at once costs about two contents per change; handling them a batch at a time costs
only the small per-change keys and hashes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pytest
import zstandard
from dp_site import DiffStore

from snapexport import diff as diffmod
from snapexport.catalog.changes import Changes
from snapexport.catalog.schema import MIGRATIONS
from snapexport.store import Store
from snapexport.values import SnapshotMeta

CONTENT = 8_000  # characters of unchanged OCR text per document
_cctx = zstandard.ZstdCompressor()


def _meta(seq: int) -> SnapshotMeta:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    return SnapshotMeta(f"{seq:064x}", seq, now, "host", "paperless", (), True)


def _record(
    conn: sqlite3.Connection,
    model: str,
    pk: int,
    fields: dict[str, Any],
    born: int,
    died: int | None,
) -> None:
    text = json.dumps({"model": model, "pk": pk, "fields": fields}, indent=2)
    h = hashlib.sha256(text.encode()).digest()
    conn.execute(
        "INSERT OR IGNORE INTO record_data (hash, data) VALUES (?, ?)",
        (h, _cctx.compress(text.encode())),
    )
    conn.execute("INSERT OR IGNORE INTO models (name) VALUES (?)", (model,))
    conn.execute(
        "INSERT INTO record_spans (model, pk, hash, sort_key, born, died)"
        " VALUES ((SELECT id FROM models WHERE name = ?), ?, ?, ?, ?, ?)",
        (model, json.dumps(pk), h, str(pk).encode(), born, died),
    )


def _catalog(n: int) -> sqlite3.Connection:
    """Snapshots 1 and 2 of a site where ``n`` documents were edited in between."""
    conn = sqlite3.connect(":memory:")
    for script in MIGRATIONS:
        conn.executescript(script)
    for pk in (1, 2):
        _record(conn, "documents.correspondent", pk, {"name": f"Corr {pk}"}, 1, None)
    for pk in range(1, n + 1):
        fields = {
            "title": f"Doc {pk}",
            "correspondent": 1,
            "content": (f"page text of document {pk} " * CONTENT)[:CONTENT],
        }
        _record(conn, "documents.document", pk, fields, 1, 2)
        changed = {**fields, "title": f"Doc {pk} (edited)", "correspondent": 2}
        _record(conn, "documents.document", pk, changed, 2, None)
    conn.commit()
    return conn


def _transient_peak(n: int) -> int:
    """Peak traced bytes during diff_snapshots beyond what its result keeps."""
    conn = _catalog(n)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = diffmod.diff_snapshots(Changes(conn), _meta(1), _meta(2))
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        conn.close()
    assert len(result.changes) == n
    first = result.changes[0]
    assert first.label == 'document 1 "Doc 1 (edited)"'
    assert [(f.name, f.before, f.after) for f in first.fields] == [
        ("title", "Doc 1", "Doc 1 (edited)"),
        ("correspondent", "Corr 1", "Corr 2"),
    ]
    assert kept >= base
    return peak - kept


def test_memory_holds_a_batch_not_every_change(monkeypatch: pytest.MonkeyPatch) -> None:
    # raising=False: on code without batches the test fails on the bound, not here.
    monkeypatch.setattr(diffmod, "_CHANGE_BATCH", 20, raising=False)
    small, big = 200, 1000
    t_small, t_big = _transient_peak(small), _transient_peak(big)
    per_change = (t_big - t_small) / (big - small)
    # Keeping both versions' fields of every change costs > 2 * CONTENT bytes per change;
    # a batch at a time leaves only the keys, hashes and sort keys (a few hundred bytes).
    assert per_change < CONTENT / 4, (t_small, t_big, per_change)


@pytest.mark.parametrize(("batch", "chars"), [(1, 2_000_000), (3, 2_000_000), (1000, 1)])
def test_batch_size_does_not_change_the_output(
    diff_store: DiffStore, monkeypatch: pytest.MonkeyPatch, batch: int, chars: int
) -> None:
    ds = diff_store
    with Store.open(ds.store) as store:
        changes = store.catalog.changes
        a, b = store.catalog.snapshots.resolve(ds.a), store.catalog.snapshots.resolve(ds.b)
        whole = diffmod.diff_snapshots(changes, a, b)
        whole_back = diffmod.diff_snapshots(changes, b, a)
        monkeypatch.setattr(diffmod, "_CHANGE_BATCH", batch)
        monkeypatch.setattr(diffmod, "_BATCH_CHARS", chars)
        batched = diffmod.diff_snapshots(changes, a, b)
        back = diffmod.diff_snapshots(changes, b, a)
    assert len(whole.changes) > 3
    for x, y in ((whole, batched), (whole_back, back)):
        assert json.dumps(x.as_json()) == json.dumps(y.as_json())
        assert list(diffmod.render(x, fields=True)) == list(diffmod.render(y, fields=True))
