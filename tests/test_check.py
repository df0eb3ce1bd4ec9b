"""check_store as a library call: a report object, repairs listed, problems named."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import blake3
import pytest

from snapexport.check import check_store
from snapexport.snapshot import take_snapshot
from snapexport.source.base import FileRef, RowRef, SerializedRecord, SiteInfo
from snapexport.store import Store
from snapexport.store.chunker import ChunkerParams
from snapexport.store.packs import object_name
from snapexport.store.recovery import CHECK_WINDOW

SMALL = ChunkerParams(min_size=256, avg_size=1024, max_size=4096)


def _store(tmp_path: Path) -> Path:
    path = tmp_path / "s"
    with Store.init(path, pack_size=32 * 1024, chunker=SMALL) as store:
        for i in range(4):
            store.put_bytes(blake3.blake3(bytes([i])).digest(length=30_000))
    return path


def test_clean_report(tmp_path: Path) -> None:
    path = _store(tmp_path)
    with Store.open(path, write=True) as store:
        report = check_store(store, read_data=True)
    assert report.ok and report.problems == [] and report.repairs == []
    assert report.blobs == 4 and report.packs >= 3 and report.bytes_read >= 120_000


def test_stray_temp_file_and_foreign_file(tmp_path: Path) -> None:
    path = _store(tmp_path)
    (path / "tmp" / "pack-9-x.tmp").write_bytes(b"junk")
    (path / "packs" / "README").write_text("hi")
    with Store.open(path, write=True) as store:
        (path / "tmp" / "pack-9-y.tmp").write_bytes(b"junk")  # appeared while open: a stray
        report = check_store(store)
    assert any("pack-9-y.tmp" in r for r in report.repairs)
    assert report.problems == ["unexpected file packs/README in the pack folder"]


def test_damaged_pack_reported_without_read_data_by_size(tmp_path: Path) -> None:
    path = _store(tmp_path)
    pack = next(p for p in (path / "packs").rglob("*") if p.is_file())
    with open(pack, "ab") as f:
        f.write(b"extra")
    with Store.open(path, write=True) as store:
        report = check_store(store)
    assert not report.ok
    assert report.problems[0].startswith(f"pack {pack.name} has ")


class _TwoFiles:
    """A tiny source: two records, each owning one file."""

    def __init__(self, folder: Path) -> None:
        self.refs = []
        for pk in (1, 2):
            f = folder / f"doc{pk}.bin"
            f.write_bytes(blake3.blake3(bytes([pk])).digest(length=20_000))
            self.refs.append(FileRef(f"doc{pk}.bin", str(f), "file", "shelf.item", str(pk)))

    @contextlib.contextmanager
    def open(self) -> Iterator[None]:
        yield

    def info(self) -> SiteInfo:
        return SiteInfo("django", ("shelf.item",), None, "UTC", {})

    def rows(self, model: str) -> Iterator[RowRef]:
        for pk in (1, 2):
            yield RowRef(str(pk), bytes([pk]) * 32, pk.to_bytes(4, "big"))

    def serialize(self, model: str, pks: Sequence[str]) -> Iterator[SerializedRecord]:
        for pk in pks:
            record = {"model": model, "pk": int(pk), "fields": {"name": f"item {pk}"}}
            yield SerializedRecord(pk, json.dumps(record, indent=2))

    def files(self) -> Iterator[FileRef]:
        return iter(self.refs)


def _break_record_text(store: Store) -> str:
    (h,) = store.catalog.conn.execute("SELECT hash FROM record_spans WHERE pk = '1'").fetchone()
    store.catalog.conn.execute("DELETE FROM record_data WHERE hash = ?", (h,))
    return f"record shelf.item pk 1 (snapshots from #1) needs text {bytes(h).hex()}"


def _break_file_blob(store: Store) -> str:
    conn = store.catalog.conn
    (blob,) = conn.execute("SELECT blob FROM file_spans WHERE path = 'doc1.bin'").fetchone()
    conn.execute("DELETE FROM blob_chunks WHERE blob = ?", (blob,))
    conn.execute("DELETE FROM blobs WHERE id = ?", (blob,))
    return f"file doc1.bin (snapshots from #1) needs blob {bytes(blob).hex()}"


def _break_blob_chunk(store: Store) -> str:
    conn = store.catalog.conn
    (blob,) = conn.execute("SELECT blob FROM file_spans WHERE path = 'doc2.bin'").fetchone()
    chunk = store.catalog.content.blob_chunk_ids(bytes(blob))[0]
    conn.execute("DELETE FROM chunks WHERE id = ?", (chunk,))
    return f"blob {bytes(blob).hex()} needs chunk {bytes(chunk).hex()}, which is not stored"


def _break_chunk_pack(store: Store) -> str:
    conn = store.catalog.conn
    (blob,) = conn.execute("SELECT blob FROM file_spans WHERE path = 'doc2.bin'").fetchone()
    chunk = store.catalog.content.blob_chunk_ids(bytes(blob))[0]
    conn.execute("INSERT INTO pack_names (id) VALUES (?)", ("f" * 64,))
    conn.execute(
        "UPDATE chunks SET pack = (SELECT n FROM pack_names WHERE id = ?) WHERE id = ?",
        ("f" * 64, chunk),
    )
    return f"chunks refer to pack {'f' * 64}, which the catalog does not list"


def _break_pack_file(store: Store) -> str:
    (pack,) = store.catalog.conn.execute("SELECT id FROM packs ORDER BY id").fetchone()
    store.backend.remove(object_name(pack))
    return f"pack {pack} is missing"


@pytest.mark.parametrize(
    "breaker",
    [_break_record_text, _break_file_blob, _break_blob_chunk, _break_chunk_pack, _break_pack_file],
    ids=lambda f: f.__name__.removeprefix("_break_"),
)
def test_check_follows_every_reference_down(
    tmp_path: Path, breaker: Callable[[Store], str]
) -> None:
    """record span -> text, file span -> blob -> chunk -> pack row -> pack file: break one
    link at a time on a store with a real snapshot, and check names exactly that link."""
    path = tmp_path / "s"
    source = _TwoFiles(tmp_path)
    with Store.init(path, pack_size=32 * 1024, chunker=SMALL) as store:
        take_snapshot(store, source)
    with Store.open(path, write=True) as store:
        assert check_store(store).ok
        expected = breaker(store)
        report = check_store(store)
    assert not report.ok
    assert any(p.startswith(expected) for p in report.problems), report.problems


_BIG_CHUNKS = ChunkerParams(min_size=128 << 10, avg_size=256 << 10, max_size=512 << 10)


def _one_big_pack(tmp_path: Path) -> tuple[Path, Path]:
    """A store whose data is one 24 MiB pack of chunks of at most ``_BIG_CHUNKS.max_size``
    (random bytes)."""
    import os

    path = tmp_path / "big"
    with Store.init(path, pack_size=32 << 20, chunker=_BIG_CHUNKS) as store:
        store.put_bytes(os.urandom(24 << 20))
    (pack,) = [p for p in (path / "packs").rglob("*") if p.is_file() and p.stat().st_size > 1e6]
    return path, pack


def test_read_data_holds_a_window_of_a_pack_not_the_pack(tmp_path: Path) -> None:
    import tracemalloc

    path, _ = _one_big_pack(tmp_path)
    with Store.open(path, write=True) as store:
        tracemalloc.start()
        try:
            report = check_store(store, read_data=True)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert report.ok and report.bytes_read >= 24 << 20, report.problems
    # one window (CHECK_WINDOW and at most a chunk more) and one decoded chunk, never the
    # 24 MiB pack, nor the window before it while the next one is read
    assert peak < CHECK_WINDOW + 2 * _BIG_CHUNKS.max_size + (1 << 20), peak


def test_a_flipped_byte_in_a_later_window_is_named(tmp_path: Path) -> None:
    path, pack = _one_big_pack(tmp_path)
    raw = bytearray(pack.read_bytes())
    raw[len(raw) * 3 // 4] ^= 0x01  # a payload three windows in
    pack.write_bytes(bytes(raw))
    with Store.open(path, write=True) as store:
        report = check_store(store, read_data=True)
    assert any(p.startswith("chunk ") and "do not match its id" in p for p in report.problems)
    # named by its chunk only: a format-3 pack's name does not cover its payloads
    assert not any("does not match its name" in p for p in report.problems)


def test_a_flipped_byte_in_a_pack_index_breaks_its_name(tmp_path: Path) -> None:
    path, pack = _one_big_pack(tmp_path)
    raw = bytearray(pack.read_bytes())
    count = int.from_bytes(raw[-12:-8], "little")
    raw[len(raw) - 16 - count * 49 + 2] ^= 0x01  # in the first chunk id of the index
    pack.write_bytes(bytes(raw))
    with Store.open(path, write=True) as store:
        report = check_store(store, read_data=True)
    assert report.problems[-1] == f"pack {pack.name} does not match its name (damaged or truncated)"
