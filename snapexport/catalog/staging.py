"""A snapshot's pending changes, staged outside the catalog until the final commit.

While a snapshot walks the site, the store commits packs, chunks and blobs in short
transactions of its own; the snapshot's span changes must not become visible before the
very end. They are kept in a private SQLite file (bounded memory however large the site),
attached to the catalog connection and applied together with the snapshot row in one
transaction. A killed run leaves only that temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from snapexport.catalog import checksums
from snapexport.catalog.modelids import model_id, model_ids, model_name, number_new
from snapexport.catalog.recordtext import staged_compressor

_SCHEMA = """
CREATE TABLE new_records (hash BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE new_spans (
    model TEXT NOT NULL, pk TEXT NOT NULL, hash BLOB NOT NULL, fingerprint BLOB,
    sort_key BLOB NOT NULL, extra TEXT
);
CREATE TABLE killed (id INTEGER PRIMARY KEY);
CREATE TABLE refingerprint (id INTEGER PRIMARY KEY, fingerprint BLOB);
CREATE TABLE seen (model TEXT NOT NULL, pk TEXT NOT NULL, position INTEGER NOT NULL,
                   PRIMARY KEY (model, pk)) WITHOUT ROWID;
CREATE TABLE misordered (model TEXT PRIMARY KEY);
CREATE TABLE new_files (
    path TEXT PRIMARY KEY, role TEXT NOT NULL, owner_model TEXT, owner_pk TEXT,
    blob BLOB NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, mode INTEGER NOT NULL,
    inode INTEGER, checksum TEXT
);
CREATE TABLE killed_files (id INTEGER PRIMARY KEY);
CREATE TABLE refreshed_files (id INTEGER PRIMARY KEY, inode INTEGER);
CREATE TABLE seen_files (path TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE missing (
    path TEXT PRIMARY KEY, role TEXT NOT NULL, owner_model TEXT, owner_pk TEXT,
    reason TEXT NOT NULL
);
"""

_SEEN_BATCH = 1000
# Record texts and spans wait in memory for one statement per batch, up to this many
# plain bytes of text (an OCR text can be long; memory stays bounded by bytes).
_RECORD_BATCH_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class FileVersion:
    """One version of one file, as a new file span will record it."""

    path: str
    role: str
    owner_model: str | None
    owner_pk: str | None
    blob: bytes
    size: int
    mtime_ns: int
    mode: int
    inode: int | None
    checksum: str | None

    def same_content(
        self, blob: bytes, size: int, mtime_ns: int, mode: int, checksum: str | None
    ) -> bool:
        return (self.blob, self.size, self.mtime_ns, self.mode, self.checksum) == (
            blob, size, mtime_ns, mode, checksum
        )  # fmt: skip


class Staging:
    """The private staging file of one snapshot run."""

    def __init__(self, folder: Path | None = None) -> None:
        fd, name = tempfile.mkstemp(prefix="snapexport-stage-", suffix=".sqlite", dir=folder)
        os.close(fd)
        self.path = Path(name)
        # Nothing here must survive a crash: no journal, no fsync.
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.executescript(_SCHEMA)
        self.conn.execute("BEGIN")
        # Paths of files found unchanged, written in batches (one statement per file was
        # a tenth of a no-change snapshot's files pass).
        self._seen_files: list[tuple[str]] = []
        # New file versions, likewise (one statement per file read was 7% of a first
        # snapshot's main thread); only this object writes the file before ``seal``.
        self._new_files: list[tuple[object, ...]] = []
        # New record texts and spans, likewise (two statements per record: 13% of a first
        # snapshot's records pass).
        self._records: list[tuple[bytes, bytes]] = []
        self._record_bytes = 0
        self._spans: list[tuple[object, ...]] = []

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()

    def seal(self) -> Path:
        """Finish writing; the file is then ready to be attached to the catalog."""
        self._flush_seen_files()
        self._flush_new_files()
        self._flush_records()
        self.conn.execute("COMMIT")
        self.conn.close()
        return self.path

    def discard(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()
        self.path.unlink(missing_ok=True)

    # -- records -------------------------------------------------------------------------

    def seen(self, rows: list[tuple[str, str, int]]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO seen VALUES (?, ?, ?)", rows)

    def misordered(self, model: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO misordered VALUES (?)", (model,))

    def record_data(self, hash_: bytes, data: bytes) -> None:
        """A new record text, plain (UTF-8): compressed as it joins the catalog."""
        self._records.append((hash_, data))
        self._record_bytes += len(data)
        if self._record_bytes >= _RECORD_BATCH_BYTES:
            self._flush_records()

    def new_span(
        self,
        model: str,
        pk: str,
        hash_: bytes,
        fingerprint: bytes | None,
        sort_key: bytes,
        extra: str | None,
    ) -> None:
        self._spans.append((model, pk, hash_, fingerprint, sort_key, extra))
        if len(self._spans) >= _SEEN_BATCH:
            self._flush_records()

    def _flush_records(self) -> None:
        if self._records:
            self.conn.executemany("INSERT OR IGNORE INTO new_records VALUES (?, ?)", self._records)
            self._records, self._record_bytes = [], 0
        if self._spans:
            self.conn.executemany("INSERT INTO new_spans VALUES (?, ?, ?, ?, ?, ?)", self._spans)
            self._spans = []

    def kill(self, span_id: int) -> None:
        self.conn.execute("INSERT OR IGNORE INTO killed VALUES (?)", (span_id,))

    def refingerprint(self, span_id: int, fingerprint: bytes) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO refingerprint VALUES (?, ?)", (span_id, fingerprint)
        )

    # -- files ---------------------------------------------------------------------------

    def seen_file(self, path: str) -> None:
        self._seen_files.append((path,))
        if len(self._seen_files) >= _SEEN_BATCH:
            self._flush_seen_files()

    def _flush_seen_files(self) -> None:
        if self._seen_files:
            self.conn.executemany("INSERT OR IGNORE INTO seen_files VALUES (?)", self._seen_files)
            self._seen_files = []

    def new_file(self, v: FileVersion) -> None:
        self._new_files.append(
            (v.path, v.role, v.owner_model, v.owner_pk, v.blob, v.size, v.mtime_ns, v.mode,
             v.inode, checksums.pack(v.checksum))
        )  # fmt: skip
        if len(self._new_files) >= _SEEN_BATCH:
            self._flush_new_files()

    def _flush_new_files(self) -> None:
        if self._new_files:
            # in order: a path staged twice keeps its last version (OR REPLACE)
            self.conn.executemany(
                "INSERT OR REPLACE INTO new_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._new_files,
            )
            self._new_files = []

    def kill_file(self, span_id: int) -> None:
        self.conn.execute("INSERT OR IGNORE INTO killed_files VALUES (?)", (span_id,))

    def refresh_file(self, span_id: int, inode: int | None) -> None:
        self.conn.execute("INSERT OR REPLACE INTO refreshed_files VALUES (?, ?)", (span_id, inode))

    def missing(
        self, path: str, role: str, owner_model: str | None, owner_pk: str | None, reason: str
    ) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO missing VALUES (?, ?, ?, ?, ?)",
            (path, role, owner_model, owner_pk, reason),
        )


def apply_staging(conn: sqlite3.Connection, seq: int, sections: list[str]) -> dict[str, int]:
    """Apply an attached staging database (schema ``stage``) as snapshot ``seq``.

    The caller holds the write transaction. Returns counts of what changed.
    """
    counts: dict[str, int] = {}

    def run(key: str, sql: str, params: tuple = ()) -> None:
        counts[key] = counts.get(key, 0) + conn.execute(sql, params).rowcount

    # staged texts are plain: each is compressed once, here (recordtext.staged_compressor)
    conn.create_function(
        "snx_compress_text", 1, staged_compressor(conn, "stage.new_records").compress,
        deterministic=True,
    )  # fmt: skip
    run(
        "record_texts_added",
        "INSERT INTO record_data (hash, data) SELECT hash, snx_compress_text(data)"
        " FROM stage.new_records n WHERE NOT EXISTS"
        " (SELECT 1 FROM record_data d WHERE d.hash = n.hash)",
    )
    run(
        "records_replaced",
        "UPDATE record_spans SET died = ? WHERE died IS NULL"
        " AND id IN (SELECT id FROM stage.killed)",
        (seq,),
    )
    # Rows gone from the site: current spans of a walked model whose pk was not seen, and
    # every current span of a model the site no longer exports.
    exported = model_ids(",".join("?" * len(sections))) if sections else "NULL"
    run(
        "records_removed",
        "UPDATE record_spans SET died = ? WHERE died IS NULL AND ("
        f" model NOT IN ({exported}) OR NOT EXISTS (SELECT 1 FROM stage.seen s"
        f"  WHERE s.model = {model_name('record_spans.model')} AND s.pk = record_spans.pk))",
        (seq, *sections),
    )
    conn.execute(
        "UPDATE record_spans SET fingerprint = (SELECT r.fingerprint FROM stage.refingerprint r"
        " WHERE r.id = record_spans.id) WHERE id IN (SELECT id FROM stage.refingerprint)"
    )
    # labels this snapshot is the first to use get their numbers (catalog/modelids.py)
    conn.execute(
        number_new(
            "SELECT model AS name, 0 AS born FROM stage.new_spans"
            " UNION ALL SELECT owner_model, 0 FROM stage.new_files"
        )
    )
    run(
        "records_added",
        "INSERT INTO record_spans (model, pk, hash, fingerprint, sort_key, extra, born)"
        f" SELECT {model_id('n.model')}, n.pk, n.hash, n.fingerprint, n.sort_key, n.extra, ?"
        " FROM stage.new_spans n",
        (seq,),
    )
    run(
        "files_replaced",
        "UPDATE file_spans SET died = ? WHERE died IS NULL"
        " AND id IN (SELECT id FROM stage.killed_files)",
        (seq,),
    )
    run(
        "files_removed",
        "UPDATE file_spans SET died = ? WHERE died IS NULL"
        " AND path NOT IN (SELECT path FROM stage.seen_files)",
        (seq,),
    )
    conn.execute(
        "UPDATE file_spans SET inode = (SELECT r.inode FROM stage.refreshed_files r"
        " WHERE r.id = file_spans.id) WHERE id IN (SELECT id FROM stage.refreshed_files)"
    )
    run(
        "files_added",
        "INSERT INTO file_spans (path, role, owner_model, owner_pk, blob, size, mtime_ns, mode,"
        f" inode, checksum, born) SELECT n.path, n.role, {model_id('n.owner_model')},"
        " n.owner_pk, n.blob, n.size, n.mtime_ns, n.mode, n.inode, n.checksum, ?"
        " FROM stage.new_files n",
        (seq,),
    )
    run(
        "missing",
        "INSERT INTO snapshot_missing (seq, path, role, owner_model, owner_pk, reason)"
        " SELECT ?, path, role, owner_model, owner_pk, reason FROM stage.missing",
        (seq,),
    )
    return counts
