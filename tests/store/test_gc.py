"""Garbage collection frees what no live blob uses and never breaks a live one."""

from __future__ import annotations

import blake3
import pytest
from store_testing import run_cli

from snapexport.store import BlobRef, Store


def _data(i: int, size: int = 30_000) -> bytes:
    return blake3.blake3(i.to_bytes(4, "little")).digest(length=size)


def _fill(store: Store, n: int) -> list[tuple[BlobRef, bytes]]:
    out = [(store.put_bytes(_data(i)), _data(i)) for i in range(n)]
    store.flush()
    return out


def _pack_files(store: Store) -> set[str]:
    return {p.name for p in (store.root / "packs").rglob("*") if p.is_file()}


def _assert_readable(store: Store, blobs: list[tuple[BlobRef, bytes]]) -> None:
    for ref, data in blobs:
        assert b"".join(store.read_blob(ref.id)) == data


def test_gc_deletes_and_repacks(tiny_store: Store) -> None:
    blobs = _fill(tiny_store, 12)
    live = blobs[::3]  # keep every third blob: most packs are mostly dead
    before = _pack_files(tiny_store)
    dry = tiny_store.collect_garbage([r.id for r, _ in live], dry_run=True)
    assert dry.dry_run and dry.blobs_deleted == 8 and _pack_files(tiny_store) == before
    report = tiny_store.collect_garbage([r.id for r, _ in live], max_unused=0.1)
    assert report.blobs_deleted == 8
    assert report.packs_deleted + report.packs_repacked > 0
    assert report.bytes_freed > 0
    assert abs(report.bytes_freed - dry.bytes_freed) < 0.2 * dry.bytes_freed
    _assert_readable(tiny_store, live)
    for ref, _ in blobs:
        assert tiny_store.has_blob(ref.id) == any(ref.id == r.id for r, _ in live)
    files = _pack_files(tiny_store)
    assert files == {r[0] for r in tiny_store.catalog.conn.execute("SELECT id FROM packs")}
    stored = sum(p.stat().st_size for p in (tiny_store.root / "packs").rglob("*") if p.is_file())
    assert stored < 0.6 * 12 * 30_000
    tiny_store.close()
    assert run_cli("check", "--read-data", "--store", str(tiny_store.root)).returncode == 0


def test_gc_with_every_blob_live_keeps_everything(tiny_store: Store) -> None:
    blobs = _fill(tiny_store, 4)
    before = _pack_files(tiny_store)
    every = [r[0] for r in tiny_store.catalog.conn.execute("SELECT id FROM blobs").fetchall()]
    report = tiny_store.collect_garbage(iter(every))
    assert report.blobs_deleted == 0 and report.bytes_freed == 0
    assert _pack_files(tiny_store) == before
    _assert_readable(tiny_store, blobs)


def test_gc_threshold_keeps_mostly_live_packs(tiny_store: Store) -> None:
    blobs = _fill(tiny_store, 6)
    tiny_store.put_bytes(b"x" * 10)  # a tiny blob sharing the last pack
    tiny_store.flush()
    report = tiny_store.collect_garbage([r.id for r, _ in blobs], max_unused=0.5)
    assert report.blobs_deleted == 1 and report.packs_repacked == 0
    _assert_readable(tiny_store, blobs)


class _Crash(Exception):
    pass


@pytest.mark.parametrize("where", ["after_new_packs", "before_old_deletes"])
def test_gc_crash_leaves_live_blobs_readable(
    tiny_store: Store, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulate a crash at the two dangerous points by raising out of the real code path."""
    from snapexport.store import gc

    blobs = _fill(tiny_store, 9)
    live = blobs[::2]
    if where == "after_new_packs":
        real = gc._write_repacked

        def crash_after(store: Store, ids: list[str]) -> list:  # type: ignore[type-arg]
            real(store, ids)
            raise _Crash

        monkeypatch.setattr(gc, "_write_repacked", crash_after)
    else:

        def crash_before(store: Store) -> list[str]:
            raise _Crash

        monkeypatch.setattr(gc, "finish_pending_deletes", crash_before)
    with pytest.raises(_Crash):
        tiny_store.collect_garbage([r.id for r, _ in live])
    tiny_store.abort()  # the process "dies": nothing else runs
    monkeypatch.undo()
    out = run_cli("check", "--read-data", "--store", str(tiny_store.root))
    assert out.returncode == 0, out.stderr
    with Store.open(tiny_store.root, write=True) as store:
        _assert_readable(store, live)
        files = _pack_files(store)
        assert files == {r[0] for r in store.catalog.conn.execute("SELECT id FROM packs")}
