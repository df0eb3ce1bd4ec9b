"""An opened store: ``Store.init`` and ``Store.open`` lock, unlock, recover and sync the catalog.

``Store`` is the entry point of the store package. It is a ``BlobStore`` (repository.py:
put and read blobs) that this module opened: it holds the store's lock, marks the catalog
while a writer has it open (so the next writer knows to recover after a crash), brings a
cached catalog up to date from the store on open, and on close saves the catalog image
when the snapshot tables changed. Garbage collection and the catalog rebuild run here too,
because they need the lock and build on everything below.

Imports run one way: this module imports ``repository``, ``recovery``, ``gc`` and
``catalog_image``; none of them imports it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from snapexport.catalog.db import Catalog
from snapexport.catalog.meta import MetaKey
from snapexport.errors import RequestError, StoreError
from snapexport.fsutil import PRIVATE_DIR, private_dir
from snapexport.store import gc, journal, journal_rebuild, keys, recovery
from snapexport.store.backend import Backend, open_backend
from snapexport.store.chunker import Chunker, ChunkerParams
from snapexport.store.compression import Codecs
from snapexport.store.config import DEFAULT_PACK_SIZE, StoreConfig
from snapexport.store.crypto import ALGORITHM, MasterKey
from snapexport.store.gc import GcReport
from snapexport.store.layout import (
    CATALOG_FILE,
    CONFIG_FILE,
    LOCKS_DIR,
    PACKS_DIR,
    catalog_in_store,
    clear_cache,
    work_dir,
)
from snapexport.store.lease import LeaseLock
from snapexport.store.location import StoreLocation
from snapexport.store.lock import NoLock, StoreLock, retrying, wait_seconds
from snapexport.store.recovery import RecoveryReport
from snapexport.store.repository import BlobStore

NO_LOCK_ENV = "SNAPEXPORT_NO_LOCK"
#: notes on every store opened in this process (read-only, no lock), for the CLI to show
OPEN_NOTES: list[str] = []
WRITER_META = MetaKey.OPEN_WRITER  # set while a writer has the store open; left by a crash


class Store(BlobStore):
    """An open store. Use as a context manager, or call ``close``."""

    lock: StoreLock | LeaseLock | NoLock

    def __init__(
        self,
        location: StoreLocation,
        backend: Backend,
        config: StoreConfig,
        catalog: Catalog,
        *,
        write: bool,
        work_dir: Path,
        lock: StoreLock | LeaseLock | NoLock,
        master: MasterKey | None = None,
        key_id: str | None = None,
    ) -> None:
        super().__init__(location, backend, config, catalog, write=write, work_dir=work_dir,
                         master=master, key_id=key_id, lock=lock)  # fmt: skip
        self._collected = False
        #: what recovery did when this writer opened after an unclean shutdown
        self.recovered: RecoveryReport | None = None

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        location: str | Path,
        *,
        compression_level: int = 3,
        pack_size: int = DEFAULT_PACK_SIZE,
        chunker: ChunkerParams | None = None,
        encrypt: bool = False,
        password: str | None = None,
    ) -> Store:
        """Create a store (an empty or missing folder, or an empty bucket prefix) and open it
        for writing; with ``encrypt`` a random master key is wrapped under ``password``."""
        loc = StoreLocation.parse(location)
        root = loc.path
        if root is not None:
            if root.exists() and not root.is_dir():
                raise StoreError(f"{root} exists and is not a folder")
            if root.is_dir() and any(root.iterdir()):
                if (root / CONFIG_FILE).exists():
                    raise StoreError(f"{root} is already a snapexport store")
                raise StoreError(f"{root} is not empty and is not a snapexport store")
        config = StoreConfig.new(
            chunker=chunker or ChunkerParams(),
            compression_level=compression_level,
            pack_size=pack_size,
            keyed=encrypt,
            encryption=ALGORITHM if encrypt else None,
        )
        Chunker(config.chunker)  # validates the parameters before anything is written
        Codecs(compression_level)
        if encrypt and password is None:
            password = keys.resolve_password(confirm=True)
        backend = open_backend(loc)
        if root is not None:
            for sub in ("", PACKS_DIR, LOCKS_DIR):
                private_dir(root / sub)
            os.chmod(root, PRIVATE_DIR)  # an empty folder the user made is the store now
        elif backend.stat(CONFIG_FILE) is not None:
            raise StoreError(f"{loc} is already a snapexport store")
        elif next(iter(backend.list("")), None) is not None:
            raise StoreError(f"{loc} is not empty and is not a snapexport store")
        lock = take_lock(loc, backend, exclusive=True)
        try:
            master = key_id = None
            if encrypt:
                assert password is not None
                master = MasterKey.new()
                key_id = keys.add_key(backend, master, password)
            work = work_dir(loc, config)
            if not catalog_in_store(loc, config):
                clear_cache(work)
            catalog = Catalog.open(work / CATALOG_FILE, create=True)
            # config last: a location without it is not (yet) a store.
            config.write(backend)
        except BaseException:
            lock.release()
            raise
        store = cls(loc, backend, config, catalog, write=True, work_dir=work,
                    master=master, key_id=key_id, lock=lock)  # fmt: skip
        store._mark_writer()
        return store

    @classmethod
    def open(
        cls,
        location: str | Path,
        *,
        write: bool = False,
        append: bool = False,
        password: str | None = None,
        wait_lock: float | None = None,
        no_lock: bool | None = None,
    ) -> Store:
        """Open an existing store; ``write`` takes the writers' lock, else a reader's.

        A writer with ``append`` (snapshot: it only adds) lets readers work beside it; other
        writers keep readers out (store/lock.py). A refused lock is retried for
        ``wait_lock`` seconds (default: SNAPEXPORT_WAIT_LOCK, else none). A reader of a
        read-only store takes no lock and says so in ``notes``; ``no_lock`` (or
        SNAPEXPORT_NO_LOCK=1) skips a reader's lock on purpose.

        An encrypted store needs ``password`` (or SNAPEXPORT_PASSWORD, a password file, a
        terminal prompt). A store whose catalog lives in the cache gets its local catalog
        brought up to date from the store first (downloaded, or rebuilt from the packs).
        """
        if no_lock is None:
            no_lock = os.environ.get(NO_LOCK_ENV, "") not in ("", "0")
        if no_lock and write:
            raise RequestError("--no-lock is for commands that only read the store")
        loc = StoreLocation.parse(location)
        root = loc.path
        if root is not None:
            if not root.is_dir():
                raise StoreError(
                    f"no store at {root} (create one with: snapexport init --store {root})"
                )
            if not (root / CONFIG_FILE).is_file():
                raise StoreError(f"{root} is not a snapexport store (it has no config file)")
        backend = open_backend(loc)
        config = StoreConfig.read(backend, str(loc))
        master, key_id = unlock(backend, config, password)
        work = work_dir(loc, config)
        in_store = catalog_in_store(loc, config)
        if in_store and not (work / CATALOG_FILE).exists():
            raise StoreError(
                f"store {loc} has no catalog ({CATALOG_FILE} is missing): rebuild it with"
                f" snapexport rebuild-catalog --store {loc}"
            )
        notes: list[str] = []
        read_only = not write and root is not None and not _writable(root)
        lock: StoreLock | LeaseLock | NoLock
        if read_only:
            notes.append(f"store {root} is read-only: reading it without a lock")
            wal = work / f"{CATALOG_FILE}-wal"
            if in_store and wal.exists() and wal.stat().st_size:
                notes.append(
                    f"{wal} holds changes a read-only store cannot merge: the newest"
                    " snapshots may not show until it is opened with write access"
                )
            lock = NoLock()
        elif no_lock:
            notes.append("reading the store without a lock (--no-lock)")
            lock = NoLock()
        else:
            if root is not None:
                private_dir(root / LOCKS_DIR)
            lock = retrying(
                lambda: take_lock(loc, backend, exclusive=write, append=append),
                wait_seconds(wait_lock),
            )
        try:
            if not in_store:
                journal_rebuild.sync_local(loc, backend, config, master, key_id, work)
            catalog = Catalog.open(work / CATALOG_FILE, read_only=read_only and in_store)
        except BaseException:
            lock.release()
            raise
        store = cls(loc, backend, config, catalog, write=write, work_dir=work,
                    master=master, key_id=key_id, lock=lock)  # fmt: skip
        store.notes = notes
        OPEN_NOTES.extend(notes)
        if write:
            try:
                store._recover_if_needed()
                store._mark_writer()
            except BaseException:
                store._release()
                raise
        return store

    def _mark_writer(self) -> None:
        with self.catalog.transaction():
            self.catalog.set_meta(WRITER_META, self.lock.holder.describe())

    def _recover_if_needed(self) -> None:
        if self.catalog.get_meta(WRITER_META) is not None or recovery.pending_deletes(self):
            self.recovered = recovery.recover(self)
        else:
            recovery.clean_tmp(self)

    def collect_garbage(
        self,
        live_blobs: Iterable[bytes],
        *,
        max_unused: float = 0.10,
        dry_run: bool = False,
    ) -> GcReport:
        """Free blobs not in ``live_blobs`` and the chunks and packs only they used.

        ``live_blobs`` streams the ids of every blob still in use (the caller asks the
        catalog for them). Returns a ``gc.GcReport``; see ``gc.collect_garbage``.
        """
        self._require_writer()
        self.flush()
        report = gc.collect_garbage(self, live_blobs, max_unused=max_unused, dry_run=dry_run)
        self._collected = self._collected or not dry_run
        return report

    def publish_catalog(self, *, checkpoint: bool = False) -> int | None:
        """Save what this writer changed in the catalog into the store: a delta, or now and
        then a checkpoint (always with ``checkpoint``), and, when the catalog lives in the
        cache, a catalog copy.

        Called on close; returns the new journal generation or None when nothing changed.
        """
        self._require_writer()
        return journal.publish(self, prune_copies=self._collected, checkpoint=checkpoint)

    def close(self) -> None:
        """Flush (when writing), then release the lock and the catalog."""
        if self._closed:
            return
        try:
            if self.write:
                self.flush()
                self.publish_catalog()
                with self.catalog.transaction():
                    self.catalog.set_meta(WRITER_META, None)
        finally:
            self._release()

    def abort(self) -> None:
        """Drop the unfinished pack and everything not yet committed, then release.

        Committed packs and blobs stay; the next writer tidies up as after a crash.
        """
        if self._closed:
            return
        try:
            self.discard()
            # WRITER_META stays set: packs sealed but not yet committed may exist, and the
            # next writer's recovery indexes them (as after a crash).
        finally:
            self._release()

    def _release(self) -> None:
        self.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


@dataclass(frozen=True, slots=True)
class Created:
    """What ``snapexport init`` made."""

    store_id: str
    location: str
    encrypted: bool

    def as_json(self) -> dict[str, Any]:
        return {"store_id": self.store_id, "location": self.location, "encrypted": self.encrypted}


def create_store(
    store_location: str | Path, *, compression_level: int = 3, encrypt: bool = False
) -> Created:
    """``snapexport init``: create an empty store (a folder, or an s3://bucket/prefix)."""
    with Store.init(store_location, compression_level=compression_level,
                    encrypt=encrypt) as store:  # fmt: skip
        return Created(store.config.store_id, str(store.location), encrypt)


Rebuilt = journal_rebuild.RebuildResult  # what ``snapexport rebuild-catalog`` did


def rebuild(
    store_location: str | Path, *, password: str | None = None, stop_at_last_good: bool = False
) -> journal_rebuild.RebuildResult:
    """``snapexport rebuild-catalog``, as a result object."""
    return rebuild_catalog(store_location, password=password, stop_at_last_good=stop_at_last_good)


def rebuild_catalog(
    store_location: str | Path, *, password: str | None = None, stop_at_last_good: bool = False
) -> journal_rebuild.RebuildResult:
    """``snapexport rebuild-catalog``: replace the catalog with one rebuilt from the packs
    (the newest checkpoint and its deltas, store/journal_rebuild.py)."""
    loc = StoreLocation.parse(store_location)
    backend = open_backend(loc)
    config = StoreConfig.read(backend, str(loc))
    master, key_id = unlock(backend, config, password)
    work = work_dir(loc, config)
    lock = retrying(lambda: take_lock(loc, backend, exclusive=True), wait_seconds())
    try:
        return journal_rebuild.rebuild_with_lock(loc, backend, config, master, key_id, work,
                                                 stop_at_last_good=stop_at_last_good)  # fmt: skip
    except sqlite3.Error as err:
        raise StoreError(f"cannot rebuild the catalog: {err}") from err
    finally:
        lock.release()


def take_lock(
    loc: StoreLocation, backend: Backend, *, exclusive: bool, append: bool = False
) -> StoreLock | LeaseLock:
    """The store's lock: lock files in a local folder, a lease object on object storage."""
    if loc.path is not None:
        return StoreLock(loc.path / LOCKS_DIR, exclusive=exclusive, append=append)
    return LeaseLock(backend, exclusive=exclusive, append=append)


def _writable(root: Path) -> bool:
    """Whether this process can take a lock in the store folder (a read-only mount, a
    snapshot of a file system or a folder of another user's cannot)."""
    locks = root / LOCKS_DIR
    return os.access(locks if locks.is_dir() else root, os.W_OK)


def unlock(
    backend: Backend, config: StoreConfig, password: str | None
) -> tuple[MasterKey | None, str | None]:
    """The master key and key id of an encrypted store (None, None for a plain one)."""
    if config.encryption is None:
        return None, None
    if config.encryption != ALGORITHM:
        raise StoreError(f"unknown store encryption {config.encryption!r}: upgrade snapexport")
    if password is None:
        password = keys.resolve_password()
    master, key_id = keys.unlock(backend, password)
    return master, key_id
