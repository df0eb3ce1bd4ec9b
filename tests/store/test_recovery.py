"""Orphan packs are indexed (or removed), and the chunk index rebuilds from packs alone."""

from __future__ import annotations

from pathlib import Path

import blake3

from snapexport.store import Store, recovery
from snapexport.store.opened import WRITER_META


def _data(i: int) -> bytes:
    return blake3.blake3(bytes([i])).digest(length=20_000)


def test_reindex_rebuilds_chunk_index(tiny_store: Store) -> None:
    refs = [tiny_store.put_bytes(_data(i)) for i in range(5)]
    tiny_store.flush()
    conn = tiny_store.catalog.conn
    before = conn.execute("SELECT * FROM chunks ORDER BY id").fetchall()
    packs_before = conn.execute("SELECT id, size, chunks FROM packs ORDER BY id").fetchall()
    with tiny_store.catalog.transaction():
        conn.execute("DELETE FROM chunks")
        conn.execute("DELETE FROM packs")
    report = recovery.reindex(tiny_store)
    assert report.packs_added == len(packs_before) and not report.damaged
    assert conn.execute("SELECT * FROM chunks ORDER BY id").fetchall() == before
    assert conn.execute("SELECT id, size, chunks FROM packs ORDER BY id").fetchall() == packs_before
    for i, ref in enumerate(refs):
        assert b"".join(tiny_store.read_blob(ref.id)) == _data(i)


def test_orphan_pack_is_indexed_and_reused(tiny_store: Store) -> None:
    """A pack saved but never committed (crash) is indexed by the next writer."""
    ref = tiny_store.put_bytes(_data(1))
    tiny_store.flush()
    conn = tiny_store.catalog.conn
    with tiny_store.catalog.transaction():  # forget everything, as if never committed
        conn.execute("DELETE FROM blob_chunks")
        conn.execute("DELETE FROM blobs")
        conn.execute("DELETE FROM chunks")
        conn.execute("DELETE FROM packs")
        tiny_store.catalog.set_meta(WRITER_META, "crashed writer")
    (tiny_store.tmp_dir / "pack-1-dead.tmp").write_bytes(b"half a pack")
    root = tiny_store.root
    tiny_store._release()  # "dies": lock and catalog let go, the meta flag stays set
    with Store.open(root, write=True) as store:
        assert store.recovered is not None
        assert store.recovered.indexed and store.recovered.temp_removed == ("pack-1-dead.tmp",)
        again = store.put_bytes(_data(1))
        assert again == ref
        store.flush()
        assert store.stats.new_chunks == 0  # everything deduplicated against the orphan
    assert list((root / "tmp").iterdir()) == []


def test_orphan_copy_is_removed(tiny_store: Store, tmp_path: Path) -> None:
    tiny_store.put_bytes(_data(2))
    tiny_store.flush()
    # the data's pack (the largest; the other holds the catalog's journal entry)
    pack = max(
        (p for p in (tiny_store.root / "packs").rglob("*") if p.is_file()),
        key=lambda p: p.stat().st_size,
    )
    # a second pack holding only chunks already indexed: a leftover of an interrupted repack
    from snapexport.catalog import content
    from snapexport.store import packs

    rows = content.chunks_of_pack(tiny_store.catalog.conn, pack.name)
    writer = packs.PackWriter(tiny_store.tmp_dir)
    for row in rows[:2]:
        writer.add(row.id, row.codec, row.size, tiny_store.load_stored(row))
    done = writer.finish()
    tiny_store.backend.save(packs.object_name(done.id), done.path)
    report = recovery.recover(tiny_store)
    assert report.removed == (done.id,)
    assert tiny_store.backend.stat(packs.object_name(done.id)) is None


def test_an_orphan_whose_payload_does_not_match_its_chunk_id_is_damaged(
    tiny_store: Store,
) -> None:
    from snapexport.store import packs

    plain = _data(9)[:1000]
    writer = packs.PackWriter(tiny_store.tmp_dir)
    writer.add(tiny_store.ids.of(plain), 0, len(plain), plain[:-1] + bytes([plain[-1] ^ 1]))
    done = writer.finish()  # named correctly: a format-3 name does not cover the payload
    tiny_store.backend.save(packs.object_name(done.id), done.path)
    report = recovery.recover(tiny_store)
    assert report.damaged == (done.id,) and not report.indexed
    assert tiny_store.backend.stat(packs.object_name(done.id)) is not None  # left alone
