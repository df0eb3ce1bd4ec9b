"""Shared fixtures: real stores in temp folders, with tiny chunks and packs where it helps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_testing import TINY_CHUNKS, TINY_PACK

from snapexport.store import Store


@pytest.fixture
def tiny_store(tmp_path: Path) -> Iterator[Store]:
    """A writable store with ~1 KiB chunks and 16 KiB packs: multi-pack blobs are cheap."""
    store = Store.init(tmp_path / "store", pack_size=TINY_PACK, chunker=TINY_CHUNKS)
    yield store
    store.close()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A closed store with default parameters."""
    path = tmp_path / "store"
    Store.init(path).close()
    return path
