"""The catalog connection: open or create ``catalog.sqlite``, migrate it, run transactions.

The connection is in autocommit mode (``isolation_level=None``): nothing holds a write lock
unless a ``transaction()`` block is open, and every such block is short. Writers use
``BEGIN IMMEDIATE`` so two writers queue on SQLite's lock instead of failing to upgrade.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from snapexport import __version__
from snapexport.catalog import meta
from snapexport.catalog.changes import Changes
from snapexport.catalog.content import Content
from snapexport.catalog.coverage import Coverage
from snapexport.catalog.documents import Documents
from snapexport.catalog.garbage import Garbage
from snapexport.catalog.images import Images
from snapexport.catalog.journal import Journal
from snapexport.catalog.meta import MetaKey
from snapexport.catalog.records import Spans
from snapexport.catalog.recordtext import RecordTexts
from snapexport.catalog.recordtext import load as load_record_dicts
from snapexport.catalog.references import References
from snapexport.catalog.retention import Retention
from snapexport.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from snapexport.catalog.snapshots import Snapshots
from snapexport.errors import CatalogVersionError, StoreError, os_error_message
from snapexport.fsutil import touch_private

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 10_000


class Catalog:
    """An open catalog database: ``conn`` (sqlite3), and ``db``, a sqlite-utils view of the
    same link for tools and tests.

    sqlite-utils is imported only when ``db`` is first used: it imports numpy whenever numpy
    is installed (paperless-ngx's environment has it), 0.1 to 0.5 s on every command that
    opens a store, and nothing on the snapshot, materialize or prune paths needs it.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self.conn = conn
        self.path = path
        self._db: sqlite_utils.Database | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    # -- the typed questions, one object per table family ---------------------------------

    @cached_property
    def content(self) -> Content:
        """Packs, chunks and blobs."""
        return Content(self.conn)

    @cached_property
    def spans(self) -> Spans:
        """Record and file spans: what a snapshot holds, what is current."""
        return Spans(self.conn)

    @cached_property
    def snapshots(self) -> Snapshots:
        """Snapshot rows: list, resolve, commit."""
        return Snapshots(self)

    @cached_property
    def retention(self) -> Retention:
        """Forgetting snapshots and collecting their spans (prune)."""
        return Retention(self.conn)

    @cached_property
    def garbage(self) -> Garbage:
        """What nothing live uses (the store's garbage collection)."""
        return Garbage(self.conn)

    @cached_property
    def changes(self) -> Changes:
        """What differs between two snapshots (diff)."""
        return Changes(self.conn)

    @cached_property
    def references(self) -> References:
        """Which catalog references do not resolve (check)."""
        return References(self.conn)

    @cached_property
    def coverage(self) -> Coverage:
        """What given snapshots need: their packs, their unresolved references (check)."""
        return Coverage(self.conn)

    @cached_property
    def documents(self) -> Documents:
        """Documents through the document index (ls, find, history, restore)."""
        return Documents(self.conn)

    @cached_property
    def images(self) -> Images:
        """Bookkeeping of the catalog's own images in the store."""
        return Images(self.conn)

    @cached_property
    def record_texts(self) -> RecordTexts:
        """How record texts are compressed (zstd with a dictionary trained on the site)."""
        return RecordTexts(self.conn)

    @cached_property
    def journal(self) -> Journal:
        """The catalog journal: what changed since the last delta, the chain (#15)."""
        return Journal(self.conn)

    @classmethod
    def open(cls, path: str | Path, *, create: bool = False, read_only: bool = False) -> Catalog:
        """Open (or with ``create``, create) the catalog at ``path`` and migrate it forward.

        ``read_only``: a catalog on a read-only file system, taken as it is (SQLite's
        ``immutable``: no WAL index, no locks; nobody can be writing it there).
        """
        if read_only:
            return cls._open_immutable(Path(path))
        path = Path(path)
        if not create and not path.exists():
            raise StoreError(f"catalog {path} is missing")
        if path.exists() and not os.access(path, os.R_OK):
            raise StoreError(
                os_error_message(PermissionError(errno.EACCES, "Permission denied", str(path)))
            )
        if create:
            touch_private(path)  # SQLite gives the -wal and -shm files the same mode
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = OFF")
            catalog = cls(conn, path)
            catalog._migrate()
            load_record_dicts(conn)
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"catalog {path} is unreadable ({err}): rebuild it from the packs with"
                " snapexport rebuild-catalog"
            ) from err
        return catalog

    @classmethod
    def _open_immutable(cls, path: Path) -> Catalog:
        if not path.exists():
            raise StoreError(f"catalog {path} is missing")
        try:
            conn = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None
            )
            catalog = cls(conn, path)
            version = catalog.schema_version
            catalog._check_version(version)
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"catalog {path} has schema version {version} and the store is read-only:"
                    " open it once with write access to upgrade it"
                )
        except sqlite3.DatabaseError as err:
            raise StoreError(
                f"catalog {path} is unreadable ({err}): rebuild it from the packs with"
                " snapexport rebuild-catalog"
            ) from err
        return catalog

    def sibling_reader(self) -> Catalog | None:
        """A second, read-only connection to the same catalog file, for another thread (it
        sees what this connection has committed); None for an in-memory catalog. One thread
        uses it; any thread may close it."""
        if self.path is None:
            return None
        conn = sqlite3.connect(
            f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
        )  # fmt: skip
        return type(self)(conn, self.path)

    @staticmethod
    def fold_wal(path: Path) -> None:
        """Make the closed catalog file at ``path`` self-contained (its WAL folded in and
        removed), so that it can be renamed into place as one file."""
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = DELETE")
        finally:
            conn.close()

    @classmethod
    def memory(cls) -> Catalog:
        """A throwaway in-memory catalog (tests, tools)."""
        conn = sqlite3.connect(":memory:", isolation_level=None)
        catalog = cls(conn, None)
        catalog._migrate()
        return catalog

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise CatalogVersionError(
                f"catalog {self.path} has schema version {version}, but snapexport "
                f"{__version__} understands at most version {SCHEMA_VERSION}: upgrade snapexport"
            )

    def _migrate(self) -> None:
        self._check_version(self.schema_version)
        if self.schema_version == SCHEMA_VERSION:
            return
        with self.transaction():
            version = self.schema_version  # re-read under the write lock
            self._check_version(version)
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(MIGRATIONS[target - 1]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {target}")
            self.set_meta(MetaKey.SCHEMA_VERSION, str(SCHEMA_VERSION))
        if version > 0:  # an upgrade rewrote tables: give their old pages back
            self.compact()

    def compact(self) -> bool:
        """VACUUM the catalog file: every table and index rebuilt with full pages, freed
        pages given back, and the WAL emptied. Only space is at stake: False when it did not
        run (an in-memory catalog, an open transaction, another connection in the way).

        Worth it after whole-catalog work (a migration, a checkpoint), not after each write:
        it rewrites the whole file.
        """
        if self.path is None or self.conn.in_transaction:
            return False
        try:
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            return False
        return True

    @contextlib.contextmanager
    def transaction(self, *, dry_run: bool = False) -> Iterator[sqlite3.Connection]:
        """A short write transaction (``BEGIN IMMEDIATE``): commit on success, else roll back.

        The one way anything writes the catalog. With ``dry_run`` it always rolls back, so a
        caller can run the real statements, report exactly what they did, and keep nothing.
        """
        if self.conn.in_transaction:
            raise StoreError("catalog transaction already open on this connection")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("ROLLBACK" if dry_run else "COMMIT")

    def get_meta(self, key: MetaKey) -> str | None:
        return meta.read(self.conn, key)

    def set_meta(self, key: MetaKey, value: str | None) -> None:
        """Set (or with None, delete) a meta key; runs in the caller's transaction if any."""
        meta.write(self.conn, key, value)

    def close(self) -> None:
        self.conn.close()


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into single statements (executescript would commit)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                yield pending
            pending = ""
    if pending.strip() and not pending.strip().startswith("--"):
        yield pending
