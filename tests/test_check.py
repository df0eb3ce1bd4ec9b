"""check_store as a library call: a report object, repairs listed, problems named."""

from __future__ import annotations

from pathlib import Path

import blake3

from snapexport.check import check_store
from snapexport.store import Store
from snapexport.store.chunker import ChunkerParams

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
