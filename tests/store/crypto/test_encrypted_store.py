"""Encrypted stores: passwords and keys, tampering found and named, no plaintext at rest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snapexport.check import check_store
from snapexport.errors import StoreError
from snapexport.store import Store, keys
from snapexport.store.keys import WrongPasswordError

SECRET = b"Invoice from ACME Widgets, account 4711-SECRET-MARKER. " * 300
PW = "correct horse"


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPEXPORT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SNAPEXPORT_SCRYPT_N", "1024")
    monkeypatch.delenv("SNAPEXPORT_PASSWORD", raising=False)


def _make(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "enc"
    with Store.init(path, encrypt=True, password=PW) as store:
        ref = store.put_bytes(SECRET, compressible=True)
        store.put_bytes(os.urandom(300_000))
    return path, ref.id


def test_round_trip_and_no_plaintext_anywhere(tmp_path: Path) -> None:
    path, blob = _make(tmp_path)
    with Store.open(path, password=PW) as store:
        assert b"".join(store.read_blob(blob)) == SECRET
        assert store.ids.keyed
    needle = b"SECRET-MARKER"
    for f in path.rglob("*"):
        if f.is_file():
            assert needle not in f.read_bytes(), f
    assert not (path / "catalog.sqlite").exists()  # the catalog lives in the user cache


def test_wrong_password_is_one_clear_line(tmp_path: Path) -> None:
    path, _ = _make(tmp_path)
    with pytest.raises(WrongPasswordError, match="wrong password"):
        Store.open(path, password="nope")
    out = subprocess.run(
        [sys.executable, "-m", "snapexport", "stats", "--store", str(path)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SNAPEXPORT_PASSWORD": "nope"},
    )  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "snapexport: error: wrong password: no key of this store opens with it"
    ]
    out = subprocess.run(
        [sys.executable, "-m", "snapexport", "stats", "--store", str(path)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 1 and "SNAPEXPORT_PASSWORD" in out.stderr


def test_keys_add_remove_passwd(tmp_path: Path) -> None:
    path, blob = _make(tmp_path)
    with Store.open(path, write=True, password=PW) as store:
        assert store.master is not None and store.key_id is not None
        second = keys.add_key(store.backend, store.master, "second")
        with pytest.raises(StoreError, match="refusing to remove the key this password opens"):
            keys.remove_key(store.backend, store.key_id, current=store.key_id)
        first = store.key_id
    with Store.open(path, password="second") as store:
        assert b"".join(store.read_blob(blob)) == SECRET
    with Store.open(path, write=True, password="second") as store:
        keys.remove_key(store.backend, first[:10], current=second)
    with pytest.raises(WrongPasswordError):
        Store.open(path, password=PW)
    pwfile = tmp_path / "new"
    pwfile.write_text("third\n")
    out = subprocess.run(
        [sys.executable, "-m", "snapexport", "key", "passwd", "--store", str(path),
         "--new-password-file", str(pwfile)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "SNAPEXPORT_PASSWORD": "second"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    with pytest.raises(WrongPasswordError):
        Store.open(path, password="second")
    with Store.open(path, password="third") as store:
        assert len(keys.list_keys(store.backend)) == 1


def test_tampered_key_object_is_named(tmp_path: Path) -> None:
    path, _ = _make(tmp_path)
    key_file = next((path / "keys").iterdir())
    raw = bytearray(key_file.read_bytes())
    raw[len(raw) // 2] ^= 1
    key_file.write_bytes(bytes(raw))
    with pytest.raises(WrongPasswordError, match=f"damaged.*{key_file.name[:12]}"):
        Store.open(path, password=PW)


def test_flipped_byte_in_a_pack_is_found_and_named(tmp_path: Path) -> None:
    path, _ = _make(tmp_path)
    pack = max(
        (p for p in (path / "packs").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
    )
    raw = bytearray(pack.read_bytes())
    raw[100] ^= 0x40
    pack.write_bytes(bytes(raw))
    with Store.open(path, write=True, password=PW) as store:
        report = check_store(store, read_data=True)
    assert not report.ok
    text = "\n".join(report.problems)
    assert pack.name in text and "damaged" in text


@pytest.mark.parametrize("encrypted", [True, False])
def test_catalog_copies_stream_and_refuse_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encrypted: bool
) -> None:
    from snapexport.errors import CorruptionError
    from snapexport.store import catalog_image

    monkeypatch.setattr(catalog_image, "_COPY_BLOCK", 16 * 1024)  # many ranged loads
    path = tmp_path / "enc"
    with Store.init(path, encrypt=encrypted, password=PW) as store:
        for i in range(3000):  # a catalog of several copy blocks
            store.put_bytes(os.urandom(64) + i.to_bytes(4, "big"))
        store.flush()
        catalog_image._upload_copy(store, 7)
        master = store.master
        backend = store.backend
        rows = store.catalog.conn.execute("SELECT id, size FROM blobs ORDER BY id").fetchall()
    copy = path / "catalog" / "0000000007"
    assert copy.stat().st_size > 4 * 16 * 1024
    raw_copy = copy.read_bytes()
    if encrypted:
        assert b"SQLite format 3" not in raw_copy  # sealed
    else:
        assert raw_copy[:4] == b"\x28\xb5\x2f\xfd"  # one zstd frame

    target = tmp_path / "restored.sqlite"
    catalog_image._download_copy(backend, master, "catalog/0000000007", target)
    import sqlite3

    conn = sqlite3.connect(target)
    assert conn.execute("SELECT id, size FROM blobs ORDER BY id").fetchall() == rows
    conn.close()
    good = target.read_bytes()

    raw = bytearray(copy.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    copy.write_bytes(bytes(raw))
    with pytest.raises(CorruptionError, match="catalog copy catalog/0000000007 is damaged"):
        catalog_image._download_copy(backend, master, "catalog/0000000007", target)
    copy.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(CorruptionError, match="catalog copy catalog/0000000007 is damaged"):
        catalog_image._download_copy(backend, master, "catalog/0000000007", target)
    assert target.read_bytes() == good  # a refused copy leaves the catalog as it was
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".restored")]
