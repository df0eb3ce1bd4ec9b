"""The catalog connection: creation, WAL, versioning, short transactions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from snapexport.catalog.db import Catalog
from snapexport.catalog.schema import SCHEMA_VERSION
from snapexport.errors import CatalogVersionError, StoreError


def test_create_sets_version_and_wal(tmp_path: Path) -> None:
    cat = Catalog.open(tmp_path / "c.sqlite", create=True)
    assert cat.schema_version == SCHEMA_VERSION
    assert cat.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert cat.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"packs", "chunks", "blobs", "blob_chunks", "snapshots"} <= set(cat.db.table_names())
    cat.close()
    again = Catalog.open(tmp_path / "c.sqlite")  # reopening migrates nothing
    assert again.schema_version == SCHEMA_VERSION
    again.close()


def test_missing_catalog_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="missing"):
        Catalog.open(tmp_path / "none.sqlite")


def test_newer_catalog_is_refused(tmp_path: Path) -> None:
    Catalog.open(tmp_path / "c.sqlite", create=True).close()
    conn = sqlite3.connect(tmp_path / "c.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogVersionError, match=f"version {SCHEMA_VERSION + 3}"):
        Catalog.open(tmp_path / "c.sqlite")


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "c.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="unreadable"):
        Catalog.open(tmp_path / "c.sqlite")


def test_transaction_rolls_back_on_error() -> None:
    cat = Catalog.memory()
    with pytest.raises(RuntimeError), cat.transaction():
        cat.set_meta("k", "v")
        raise RuntimeError
    assert cat.get_meta("k") is None
    with cat.transaction():
        cat.set_meta("k", "v")
    assert cat.get_meta("k") == "v"
    assert not cat.conn.in_transaction


def test_nested_transaction_is_refused() -> None:
    cat = Catalog.memory()
    with cat.transaction(), pytest.raises(StoreError), cat.transaction():
        pass
