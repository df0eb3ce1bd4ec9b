"""Content queries: batched existence checks, pack and blob inserts, totals."""

from __future__ import annotations

import os

from snapexport.catalog import content
from snapexport.catalog.db import Catalog


def _ids(n: int) -> list[bytes]:
    return [os.urandom(32) for _ in range(n)]


def test_existing_chunks_batched_over_thousands() -> None:
    cat = Catalog.memory()
    stored = _ids(3000)
    rows = [content.ChunkRow(i, "p" * 64, 8 + n, 1, 1, 0) for n, i in enumerate(stored)]
    with cat.transaction() as conn:
        assert content.insert_pack(conn, "p" * 64, 100, rows) == 3000
    asked = stored[::2] + _ids(2000)
    statements: list[str] = []
    cat.conn.set_trace_callback(statements.append)
    found = content.existing_chunks(cat.conn, asked)
    cat.conn.set_trace_callback(None)
    assert found == set(stored[::2])
    assert len(statements) <= len(asked) // content.BATCH + 1  # batches, not one per id


def test_insert_pack_keeps_existing_chunk_locations() -> None:
    cat = Catalog.memory()
    cid = _ids(1)[0]
    with cat.transaction() as conn:
        content.insert_pack(conn, "a" * 64, 50, [content.ChunkRow(cid, "a" * 64, 8, 5, 5, 0)])
        added = content.insert_pack(
            conn, "b" * 64, 60, [content.ChunkRow(cid, "b" * 64, 8, 5, 5, 0)]
        )
    assert added == 0
    assert content.chunk_rows(cat.conn, [cid])[cid].pack == "a" * 64


def test_blobs_and_totals() -> None:
    cat = Catalog.memory()
    c1, c2, b = _ids(3)
    with cat.transaction() as conn:
        content.insert_pack(
            conn,
            "a" * 64,
            100,
            [
                content.ChunkRow(c1, "a" * 64, 8, 10, 20, 1),
                content.ChunkRow(c2, "a" * 64, 18, 30, 30, 0),
            ],
        )
        assert content.insert_blob(conn, b, 70, [c1, c2, c1])
        assert not content.insert_blob(conn, b, 70, [c1, c2, c1])
    assert content.blob_chunk_ids(cat.conn, b) == [c1, c2, c1]
    assert content.existing_blobs(cat.conn, [b, c1]) == {b}
    t = content.totals(cat.conn)
    assert (t.packs, t.pack_bytes, t.chunks, t.chunk_plain_bytes, t.chunk_stored_bytes) == (
        1, 100, 2, 50, 40,
    )  # fmt: skip
    assert (t.blobs, t.blob_bytes) == (1, 70)
