"""Catalog schema 3: a one-chunk blob has no blob_chunks row (its chunk id is its own id),
and reading, garbage collection and check treat it as listing that one chunk."""

from __future__ import annotations

import blake3
from store_testing import run_cli

from snapexport.store import BlobRef, Store


def _rows(store: Store, blob: bytes) -> int:
    conn = store.catalog.conn
    return int(
        conn.execute("SELECT count(*) FROM blob_chunks WHERE blob = ?", (blob,)).fetchone()[0]
    )


def _put(store: Store) -> tuple[tuple[BlobRef, bytes], tuple[BlobRef, bytes]]:
    small = b"one chunk " * 20
    big = blake3.blake3(b"big").digest(length=30_000)
    refs = (store.put_bytes(small), small), (store.put_bytes(big), big)
    store.flush()
    return refs


def test_one_chunk_blob_has_no_row_and_reads_back(tiny_store: Store) -> None:
    (small, small_data), (big, big_data) = _put(tiny_store)
    content = tiny_store.catalog.content
    assert _rows(tiny_store, small.id) == 0 and content.blob_chunk_ids(small.id) == [small.id]
    assert _rows(tiny_store, big.id) > 1
    assert b"".join(tiny_store.read_blob(small.id)) == small_data
    assert b"".join(tiny_store.read_blob(big.id)) == big_data
    listed = content.blob_chunk_rows([small.id]).get(small.id)
    assert listed is not None and [cid for cid, _ in listed] == [small.id]
    assert listed[0][1] is not None and listed[0][1].pack in content.pack_ids()
    tiny_store.close()
    assert run_cli("check", "--read-data", "--store", str(tiny_store.root)).returncode == 0


def test_gc_keeps_a_live_one_chunk_blob_and_frees_a_dead_one(tiny_store: Store) -> None:
    (small, small_data), (big, big_data) = _put(tiny_store)
    tiny_store.collect_garbage([small.id], max_unused=0.0)
    assert b"".join(tiny_store.read_blob(small.id)) == small_data
    assert not tiny_store.has_blob(big.id)
    assert tiny_store.catalog.content.chunk_rows([small.id])
    tiny_store.collect_garbage([], max_unused=0.0)
    assert not tiny_store.has_blob(small.id)
    assert not tiny_store.catalog.content.chunk_rows([small.id])  # its chunk went too
    assert big_data  # (read above before it went)
    tiny_store.close()
    assert run_cli("check", "--read-data", "--store", str(tiny_store.root)).returncode == 0


def test_check_names_the_missing_chunk_of_a_one_chunk_blob(tiny_store: Store) -> None:
    (small, _), _ = _put(tiny_store)
    tiny_store.catalog.conn.execute("DELETE FROM chunks WHERE id = ?", (small.id,))
    tiny_store.close()
    out = run_cli("check", "--store", str(tiny_store.root))
    assert out.returncode == 1
    assert f"blob {small.id.hex()} needs chunk {small.id.hex()}" in out.stderr
