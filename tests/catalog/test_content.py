"""Content queries: batched existence checks, pack and blob inserts, totals."""

from __future__ import annotations

import os
import sqlite3

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


def test_insert_blobs_many_at_once_counts_the_new_ones() -> None:
    """One-chunk blobs that are their own chunk go in one statement, without blob_chunks
    rows; others go as insert_blob puts them; a blob already there is not new."""
    cat = Catalog.memory()
    ones = _ids(300)
    c1, c2, multi, old = _ids(4)
    calls: list[str] = []

    class Counted:
        """The connection, counting the statements handed to it (executemany is one)."""

        def __init__(self, conn: sqlite3.Connection) -> None:
            self._conn = conn

        def execute(self, *args: object) -> sqlite3.Cursor:
            calls.append("execute")
            return self._conn.execute(*args)  # type: ignore[arg-type]

        def executemany(self, *args: object) -> sqlite3.Cursor:
            calls.append("executemany")
            return self._conn.executemany(*args)  # type: ignore[arg-type]

    with cat.transaction() as conn:
        content.insert_blob(conn, old, 5, [old])
        rows = [(b, 10, [b]) for b in ones] + [(multi, 70, [c1, c2, c1]), (old, 5, [old])]
        assert content.insert_blobs(Counted(conn), rows) == 301  # type: ignore[arg-type]
        assert content.insert_blobs(conn, rows) == 0
    assert calls == ["executemany", "execute", "executemany"]  # the multi-chunk one alone
    assert content.blob_chunk_ids(cat.conn, multi) == [c1, c2, c1]
    assert content.blob_chunk_ids(cat.conn, ones[7]) == [ones[7]]
    assert cat.conn.execute("SELECT count(*) FROM blob_chunks").fetchone()[0] == 3
    assert content.totals(cat.conn).blobs == 302
