"""A pack whose catalog row is lost while chunk rows still name it is adopted, never deleted.

Only chunk rows in *other* packs that the catalog lists make a pack file a redundant copy;
every path that deletes pack files (recovery of orphans, interrupted garbage collections)
is held to that rule.
"""

from __future__ import annotations

import json
from pathlib import Path

import blake3
from store_testing import TINY_CHUNKS, run_cli

from snapexport.catalog.meta import MetaKey
from snapexport.store import Store, packs, recovery


def _data(i: int) -> bytes:
    return blake3.blake3(bytes([i])).digest(length=20_000)


def _pack_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "packs").rglob("*") if p.is_file())


def _one_pack_store(tmp_path: Path) -> tuple[Path, bytes, str]:
    root = tmp_path / "store"
    with Store.init(root, chunker=TINY_CHUNKS) as store:  # one pack, many chunks
        ref = store.put_bytes(_data(1))
        store.flush()
        (pid,) = store.catalog.content.pack_ids()
    return root, ref.id, pid


def _drop_pack_row(root: Path, pid: str) -> None:
    with Store.open(root, write=True) as store, store.catalog.transaction():
        store.catalog.conn.execute("DELETE FROM packs WHERE id = ?", (pid,))


def test_check_adopts_pack_whose_row_is_missing(tmp_path: Path) -> None:
    """The reproduced data loss: `check` deleted the only copy (1 pack file -> 0)."""
    root, blob, pid = _one_pack_store(tmp_path)
    _drop_pack_row(root, pid)
    assert len(_pack_files(root)) == 1

    done = run_cli("check", "--store", str(root))

    assert [p.name for p in _pack_files(root)] == [pid], done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"indexed orphan pack {pid}" in done.stdout
    with Store.open(root) as store:
        assert store.catalog.content.pack_ids() == {pid}
        assert b"".join(store.read_blob(blob)) == _data(1)
    again = run_cli("check", "--read-data", "--store", str(root))
    assert again.returncode == 0 and "repaired" not in again.stdout, again.stdout


def test_adopted_pack_takes_over_chunks_of_an_unlisted_pack(tmp_path: Path) -> None:
    """Chunk rows pointing at a pack the catalog does not list are moved to the adopted copy."""
    root, blob, pid = _one_pack_store(tmp_path)
    with Store.open(root, write=True) as store:
        with store.catalog.transaction():
            store.catalog.conn.execute("DELETE FROM packs WHERE id = ?", (pid,))
            store.catalog.conn.execute("UPDATE chunks SET pack = ?", ("ab" * 32,))
        report = recovery.recover(store)
        assert report.indexed == (pid,) and report.removed == ()
        assert {r.pack for r in store.catalog.content.chunks_of_pack(pid)} == {pid}
        assert list(store.catalog.references.packs_missing_rows()) == []
        assert b"".join(store.read_blob(blob)) == _data(1)
    assert len(_pack_files(root)) == 1


def test_real_copy_is_still_removed(tmp_path: Path) -> None:
    """A verified orphan whose chunks all live in another listed pack is a leftover copy."""
    root, _, pid = _one_pack_store(tmp_path)
    with Store.open(root, write=True) as store:
        rows = store.catalog.content.chunks_of_pack(pid)
        writer = packs.PackWriter(store.tmp_dir, store.cipher)
        assert len(rows) > 2
        for row in rows[:-1]:  # a different pack file, every chunk of it indexed in `pid`
            writer.add(row.id, row.codec, row.size, store.load_stored(row))
        copy = writer.finish()
        store.backend.save(packs.object_name(copy.id), copy.path)
        report = recovery.recover(store)
    assert report.removed == (copy.id,)
    assert [p.name for p in _pack_files(root)] == [pid]


def test_pending_delete_of_a_referenced_pack_is_not_carried_out(tmp_path: Path) -> None:
    """An interrupted collection's delete list never removes a pack chunk rows still use."""
    root, blob, pid = _one_pack_store(tmp_path)
    with Store.open(root, write=True) as store:
        with store.catalog.transaction():
            store.catalog.conn.execute("DELETE FROM packs WHERE id = ?", (pid,))
            store.catalog.set_meta(MetaKey.PENDING_PACK_DELETES, json.dumps([pid]))
        report = recovery.recover(store)
        assert report.indexed == (pid,)
        assert b"".join(store.read_blob(blob)) == _data(1)
    assert [p.name for p in _pack_files(root)] == [pid]
