"""The names of a store's files and folders, and where its catalog lives.

docs/format.md describes each object byte by byte; this module is the one place their names
are spelled. Names are relative to the store location (a folder, or a bucket prefix).

::

    config                 the store's config (format, id, chunker, encryption)
    keys/<id>              wrapped master keys (encrypted stores)
    packs/<2 hex>/<64 hex> pack files, named by the BLAKE3 of their bytes
    catalog/<10 digits>    catalog copies (stores whose catalog lives in the cache)
    locks/                 the lock: a lock file, writer.json, readers/ (local folders)
                           or lease objects (object storage)
    catalog.sqlite         the catalog (plain local stores; all others: the cache folder)
    tmp/                   packs being written and other scratch files (local work folder)
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from snapexport.fsutil import private_dir
from snapexport.store.location import StoreLocation, cache_dir


class _Identity(Protocol):
    """What the layout needs of a store's config (``config.StoreConfig``, which needs the
    name of its own file from here)."""

    @property
    def store_id(self) -> str: ...

    @property
    def encryption(self) -> str | None: ...


CONFIG_FILE = "config"
KEYS_PREFIX = "keys/"
PACKS_DIR = "packs"
PACKS_PREFIX = PACKS_DIR + "/"
COPIES_PREFIX = "catalog/"
LOCKS_DIR = "locks"
LOCKS_PREFIX = LOCKS_DIR + "/"
LOCK_FILE = "lock"  # under locks/ of a local folder: the writers' flock
GC_FILE = "gc"  # under locks/ of a local folder: the readers' flock (see lock.py)
WRITER_FILE = "writer.json"  # under locks/ of a local folder
READERS_DIR = "readers"  # under locks/ of a local folder
CATALOG_FILE = "catalog.sqlite"
TMP_DIR = "tmp"


def catalog_in_store(location: StoreLocation, config: _Identity) -> bool:
    """Plain local stores keep their catalog in the folder; all others in the cache."""
    return location.path is not None and config.encryption is None


def work_dir(location: StoreLocation, config: _Identity) -> Path:
    """The local folder holding the catalog and ``tmp/``: the store folder or its cache."""
    if catalog_in_store(location, config):
        assert location.path is not None
        return location.path
    return cache_dir(config.store_id)


def clear_cache(work: Path) -> None:
    """A new store id never has a cache yet; remove a leftover catalog just in case."""
    for name in (CATALOG_FILE, CATALOG_FILE + "-wal", CATALOG_FILE + "-shm"):
        (work / name).unlink(missing_ok=True)
    private_dir(work)
