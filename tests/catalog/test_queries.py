"""The catalog's one transaction idiom, its meta keys, and the query objects' contracts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from snapexport.catalog import Catalog
from snapexport.catalog.content import ChunkRow
from snapexport.catalog.meta import MetaKey
from snapexport.errors import SnapshotNotFoundError, StoreError
from snapexport.values import SnapshotMeta


def _meta(seq: int, sid: str) -> SnapshotMeta:
    return SnapshotMeta(
        id=sid, seq=seq, time=datetime(2026, 1, seq, tzinfo=UTC), host="h", profile="django",
        tags=(), complete=True, info={}, stats={},
    )  # fmt: skip


def test_one_upsert_for_every_meta_key() -> None:
    cat = Catalog.memory()
    with cat.transaction():
        cat.set_meta(MetaKey.UNCOLLECTED, "3,4")
        cat.set_meta(MetaKey.UNCOLLECTED, "4")  # replaces, never a second row
    assert cat.get_meta(MetaKey.UNCOLLECTED) == "4"
    rows = cat.conn.execute("SELECT count(*) FROM meta WHERE key = 'uncollected'").fetchone()
    assert rows == (1,)
    with cat.transaction():
        cat.set_meta(MetaKey.UNCOLLECTED, None)
    assert cat.get_meta(MetaKey.UNCOLLECTED) is None
    # the enum spells the keys the catalog has always stored
    assert MetaKey.OPEN_WRITER == "open_writer" and MetaKey.NEXT_SEQ == "next_seq"


def test_transaction_commits_rolls_back_and_dry_runs() -> None:
    cat = Catalog.memory()
    with cat.transaction():
        cat.set_meta(MetaKey.NEXT_SEQ, "7")
    with pytest.raises(RuntimeError), cat.transaction():
        cat.set_meta(MetaKey.NEXT_SEQ, "8")
        raise RuntimeError("boom")
    assert cat.get_meta(MetaKey.NEXT_SEQ) == "7"
    with cat.transaction(dry_run=True):
        cat.set_meta(MetaKey.NEXT_SEQ, "9")
        assert cat.get_meta(MetaKey.NEXT_SEQ) == "9"  # visible inside, gone after
    assert cat.get_meta(MetaKey.NEXT_SEQ) == "7"
    with cat.transaction(), pytest.raises(StoreError, match="already open"), cat.transaction():
        pass


def test_snapshots_resolve_and_name_what_is_missing() -> None:
    cat = Catalog.memory()
    with cat.transaction() as conn:
        from snapexport.catalog.snapshots import insert_snapshot

        insert_snapshot(conn, _meta(1, "ab" * 32))
        insert_snapshot(conn, _meta(2, "cd" * 32))
    snaps = cat.snapshots
    assert [m.seq for m in snaps.all()] == [1, 2] and snaps.exist()
    assert snaps.resolve("latest").seq == 2 and snaps.resolve("latest~1").seq == 1
    assert snaps.resolve("abab").seq == 1 and snaps.newest() is not None
    with pytest.raises(SnapshotNotFoundError, match="no snapshot matches"):
        snaps.resolve("eeee")
    assert SnapshotNotFoundError.exit_code == 2  # the CLI answers "usage" for it


def test_garbage_marks_live_and_dead_from_blob_ids() -> None:
    cat = Catalog.memory()
    live, dead = b"L" * 32, b"D" * 32
    shared, only_dead = b"s" * 32, b"d" * 32
    with cat.transaction():
        rows = [ChunkRow(shared, "p1", 0, 10, 10, 0), ChunkRow(only_dead, "p1", 10, 30, 30, 0)]
        cat.content.insert_pack("p1", 100, rows)
        cat.content.insert_blob(live, 10, [shared])
        cat.content.insert_blob(dead, 40, [shared, only_dead])
    gc = cat.garbage
    gc.mark_live(iter([live]))
    assert gc.dead_blobs() == [dead]
    assert gc.mark_dead_chunks() == 1
    (use,) = gc.packs_with_dead_chunks()
    assert (use.id, use.size, use.live_chunks, use.live_bytes) == ("p1", 100, 1, 10)
    assert [r.id for r in gc.live_chunks_of_pack("p1")] == [shared]


def test_images_bookkeeping_round_trips() -> None:
    cat = Catalog.memory()
    images = cat.images
    assert images.current() == {} and images.blob_ids() == [] and images.live_blobs() == []
    blob, header = b"\x01" * 32, b"\x02" * 32
    with cat.transaction():
        images.set_current({"gen": 1, "state": "x", "blob": blob.hex(), "header": header.hex()})
        images.set_blob_ids({blob.hex(), header.hex()})
    assert json.loads(cat.get_meta(MetaKey.CATALOG_IMAGE) or "{}")["gen"] == 1
    assert set(images.live_blobs()) == {blob, header}
    with cat.transaction():
        images.forget_collected()  # neither blob has a row: both are forgotten
    assert images.blob_ids() == []
