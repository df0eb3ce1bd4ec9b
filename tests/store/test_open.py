"""Opening and creating stores: clear one-line errors for anything that is not a store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from store_testing import run_cli

from snapexport.catalog.schema import SCHEMA_VERSION
from snapexport.errors import CatalogVersionError, StoreError
from snapexport.store import Store


def test_init_creates_layout(tmp_path: Path) -> None:
    out = run_cli("init", "--store", str(tmp_path / "s"))
    assert out.returncode == 0, out.stderr
    names = {p.name for p in (tmp_path / "s").iterdir()}
    assert {"config", "catalog.sqlite", "packs", "locks", "tmp"} <= names


def test_init_refuses_non_empty_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    out = run_cli("init", "--store", str(tmp_path))
    assert out.returncode == 1
    assert "not empty and is not a snapexport store" in out.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_init_refuses_existing_store(store_path: Path) -> None:
    with pytest.raises(StoreError, match="already a snapexport store"):
        Store.init(store_path)


def test_store_from_env(tmp_path: Path) -> None:
    out = run_cli("init", env={"SNAPEXPORT_STORE": str(tmp_path / "e")})
    assert out.returncode == 0
    assert run_cli("stats", env={"SNAPEXPORT_STORE": str(tmp_path / "e")}).returncode == 0


def test_unknown_folder(tmp_path: Path) -> None:
    out = run_cli("stats", "--store", str(tmp_path))
    assert out.returncode == 1
    assert (
        out.stderr.strip()
        == f"snapexport: error: {tmp_path} is not a snapexport store (it has no config file)"
    )
    out = run_cli("check", "--store", str(tmp_path / "nowhere"))
    assert out.returncode == 1 and "no store at" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("text", ["{not json", '{"format": "snapexport-store"}', "", "[]"])
def test_corrupted_config(store_path: Path, text: str) -> None:
    (store_path / "config").write_text(text)
    out = run_cli("check", "--store", str(store_path))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "config" in lines[0] and ("damaged" in lines[0] or "not a snapexport" in lines[0])


def test_catalog_newer_than_code(store_path: Path) -> None:
    conn = sqlite3.connect(store_path / "catalog.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogVersionError, match="upgrade snapexport"):
        Store.open(store_path)
    out = run_cli("stats", "--store", str(store_path))
    assert out.returncode == 1 and "newer" not in out.stdout
    assert f"schema version {SCHEMA_VERSION + 1}" in out.stderr


def test_read_only_store_refuses_writes(store_path: Path) -> None:
    with Store.open(store_path) as store, pytest.raises(StoreError, match="read-only"):
        store.put_bytes(b"x")
