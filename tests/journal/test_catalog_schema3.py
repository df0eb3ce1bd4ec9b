"""Catalog schema 3 (a smaller local catalog, issue #15): a schema-2 catalog opens, is
upgraded in place and keeps working; a delta written by schema-2 code (with a blob_chunks
row for every one-chunk blob) still replays to the same catalog."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from journal_site import (
    materialized,
    night,
    ok,
    rebuilt_equals_live,
    snapshot,
    tables,
    to_schema_3,
)

from snapexport.catalog import journal as cj
from snapexport.catalog.db import Catalog

# What schema 3 changed, undone: the catalog as schema-2 code left it.
_TO_SCHEMA_2 = """
CREATE TABLE chunks_v2 (
    id BLOB PRIMARY KEY, pack TEXT NOT NULL REFERENCES packs(id), offset INTEGER NOT NULL,
    length INTEGER NOT NULL, size INTEGER NOT NULL, codec INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO chunks_v2 SELECT c.id, n.id, c.offset, c.length, c.size, c.codec
    FROM chunks c JOIN pack_names n ON n.n = c.pack;
DROP TABLE chunks;
ALTER TABLE chunks_v2 RENAME TO chunks;
CREATE INDEX chunks_pack ON chunks(pack);
DROP TABLE pack_names;
INSERT INTO blob_chunks SELECT id, 0, id FROM blobs
    WHERE chunks = 1 AND id NOT IN (SELECT blob FROM blob_chunks);
DELETE FROM journal_log;
DROP INDEX file_spans_checksum;
CREATE INDEX file_spans_checksum ON file_spans(checksum);
CREATE INDEX file_spans_blob ON file_spans(blob);
CREATE INDEX record_spans_hash ON record_spans(hash);
DROP INDEX file_spans_owner;
CREATE INDEX file_spans_owner ON file_spans(owner_model, owner_pk, role);
DROP INDEX file_spans_died;
CREATE INDEX file_spans_died ON file_spans(died);
DROP INDEX record_spans_died;
CREATE INDEX record_spans_died ON record_spans(died);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
PRAGMA user_version = 2;
"""


def _to_schema_2(path: Path) -> None:
    to_schema_3(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(_TO_SCHEMA_2)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _facts(path: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        implied = conn.execute(
            "SELECT count(*) FROM blob_chunks bc JOIN blobs b ON b.id = bc.blob"
            " WHERE b.chunks = 1 AND bc.chunk = bc.blob"
        ).fetchone()[0]
        return version, implied, conn.execute("SELECT count(*) FROM journal_log").fetchone()[0]
    finally:
        conn.close()


def test_schema2_catalog_is_upgraded_and_keeps_working(site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    ok("init", "--store", store, site=site)
    first = snapshot(store, site)
    night(site, 1)
    second = snapshot(store, site)
    want = {s: materialized(store, s, tmp_path / f"before-{s[:8]}") for s in (first, second)}
    live = tables(store / "catalog.sqlite")
    _to_schema_2(store / "catalog.sqlite")
    version, implied, _ = _facts(store / "catalog.sqlite")
    assert version == 2 and implied > 0
    # the next command upgrades it: same rows, same snapshots, nothing logged for the journal
    for s in (first, second):
        assert materialized(store, s, tmp_path / f"after-{s[:8]}") == want[s]
    assert _facts(store / "catalog.sqlite") == (4, 0, 0)
    assert tables(store / "catalog.sqlite") == live
    ok("check", "--store", store)
    night(site, 2)
    snapshot(store, site)
    rebuilt_equals_live(store, tmp_path / "rebuilt")


def _one_chunk_and_multi(cat: Catalog) -> tuple[bytes, bytes]:
    one, multi = b"\x01" * 32, b"\x02" * 32
    with cat.transaction():
        cat.content.insert_blob(one, 10, [one])
        cat.content.insert_blob(multi, 20, [b"\x03" * 32, b"\x04" * 32])
    return one, multi


def test_schema2_delta_with_one_chunk_rows_replays(tmp_path: Path) -> None:
    writer = Catalog.open(tmp_path / "writer.sqlite", create=True)
    one, multi = _one_chunk_and_multi(writer)
    delta = tmp_path / "delta.sqlite"
    writer.journal.write_delta(delta, writer.journal.log_max(), {"gen": "2", "parent": ""})
    writer.close()
    # what schema-2 code wrote: a blob_chunks row for the one-chunk blob too, version 1
    conn = sqlite3.connect(delta, isolation_level=None)
    conn.execute("INSERT INTO blob_chunks (blob, seq, chunk) VALUES (?, 0, ?)", (one, one))
    conn.execute("INSERT INTO keys (tbl, k1, k2) VALUES ('blob_chunks', ?, 0)", (one,))
    conn.execute("UPDATE delta SET value = '1' WHERE key = 'version'")
    conn.execute("UPDATE delta SET value = '2' WHERE key = 'schema'")
    conn.close()
    assert cj.read_delta(delta).gen == 2
    reader = Catalog.open(tmp_path / "reader.sqlite", create=True)
    reader.journal.apply_delta(delta)
    rows = reader.conn.execute("SELECT blob, seq FROM blob_chunks ORDER BY blob, seq").fetchall()
    assert rows == [(multi, 0), (multi, 1)]
    assert reader.content.blob_chunk_ids(one) == [one]
    assert reader.content.blob_chunk_ids(multi) == [b"\x03" * 32, b"\x04" * 32]
    reader.close()
