"""Damaged stores: check names what is broken, and reading a blob fails loudly."""

from __future__ import annotations

from pathlib import Path

import blake3
import pytest
from store_testing import TINY_CHUNKS, run_cli

from snapexport.errors import CorruptionError
from snapexport.store import BlobRef, Store


def _filled(tmp_path: Path) -> tuple[Path, list[tuple[BlobRef, bytes]]]:
    path = tmp_path / "store"
    blobs = []
    with Store.init(path, pack_size=64 * 1024, chunker=TINY_CHUNKS) as store:
        for i in range(6):
            data = blake3.blake3(bytes([i])).digest(length=40_000) + b"text " * 2000
            blobs.append((store.put_bytes(data), data))
    return path, blobs


def _packs(path: Path) -> list[Path]:
    return sorted(p for p in (path / "packs").rglob("*") if p.is_file())


def test_clean_store_passes(tmp_path: Path) -> None:
    path, _ = _filled(tmp_path)
    out = run_cli("check", "--read-data", "--store", str(path))
    assert out.returncode == 0, out.stderr
    assert "no problems found" in out.stdout


def test_flipped_byte_found_by_read_data(tmp_path: Path) -> None:
    path, blobs = _filled(tmp_path)
    pack = _packs(path)[0]
    raw = bytearray(pack.read_bytes())
    raw[100] ^= 0x01  # inside the first payload
    pack.write_bytes(bytes(raw))
    assert run_cli("check", "--store", str(path)).returncode == 0  # sizes still fine
    out = run_cli("check", "--read-data", "--store", str(path))
    assert out.returncode == 1
    assert f"pack {pack.name}" in out.stderr
    assert "chunk " in out.stderr and "do not match its id" in out.stderr
    with Store.open(path) as store, pytest.raises(CorruptionError, match=pack.name):
        for ref, _ in blobs:
            b"".join(store.read_blob(ref.id))


def test_truncated_pack(tmp_path: Path) -> None:
    path, blobs = _filled(tmp_path)
    pack = _packs(path)[-1]
    pack.write_bytes(pack.read_bytes()[: pack.stat().st_size // 2])
    out = run_cli("check", "--store", str(path))
    assert out.returncode == 1
    assert f"pack {pack.name} has" in out.stderr and "truncated" in out.stderr
    with Store.open(path) as store, pytest.raises(CorruptionError, match=pack.name):
        for ref, _ in blobs:
            b"".join(store.read_blob(ref.id))


def test_missing_pack(tmp_path: Path) -> None:
    path, blobs = _filled(tmp_path)
    pack = _packs(path)[0]
    pack.unlink()
    out = run_cli("check", "--store", str(path))
    assert out.returncode == 1
    assert f"pack {pack.name} is missing" in out.stderr
    with Store.open(path) as store, pytest.raises(CorruptionError, match=f"{pack.name} is missing"):
        for ref, _ in blobs:
            b"".join(store.read_blob(ref.id))


def test_missing_chunk_row_names_the_blob(tmp_path: Path) -> None:
    path, blobs = _filled(tmp_path)
    with Store.open(path, write=True) as store:
        chunk = store.catalog.content.blob_chunk_ids(blobs[0][0].id)[0]
        store.catalog.conn.execute("DELETE FROM chunks WHERE id = ?", (chunk,))
    out = run_cli("check", "--store", str(path))
    assert out.returncode == 1
    assert f"blob {blobs[0][0].id.hex()} needs chunk {bytes(chunk).hex()}" in out.stderr


def test_damaged_header_magic_is_named_by_read_data(tmp_path: Path) -> None:
    """check reads a pack in windows; the first one's header magic is checked too."""
    path, _ = _filled(tmp_path)
    pack = _packs(path)[0]
    raw = bytearray(pack.read_bytes())
    raw[0] ^= 0xFF  # the "S" of the header magic
    pack.write_bytes(bytes(raw))
    out = run_cli("check", "--read-data", "--store", str(path))
    assert out.returncode == 1
    assert f"pack {pack.name}: header magic is wrong" in out.stderr
