"""The document index file: its schema, and writing it through its own connection.

The index (see ``catalog/documents.py`` for what it answers) is a cache beside the catalog,
never inside the store: rows per record span of the models a profile names, keyed by span
id *and* record hash, and a watermark (the highest span indexed, with its hash).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

INDEX_VERSION = 5
TAG_END = "\x1f"  # ends each tag pk in versions.tags (a JSON text never holds it raw)
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    span        INTEGER PRIMARY KEY,    -- record_spans.id of one document version
    hash        BLOB NOT NULL,          -- record_spans.hash (a renumbered span never joins)
    pk          TEXT NOT NULL,          -- JSON pk, as record_spans.pk
    title       TEXT,
    correspondent TEXT,                 -- JSON pk of the related record, or NULL
    document_type TEXT,
    asn         TEXT,
    original_filename TEXT,
    checksum    TEXT,
    archive_checksum TEXT,
    created     TEXT,
    deleted_at  TEXT,
    mime_type   TEXT,
    file_type   TEXT,
    has_archive INTEGER NOT NULL DEFAULT 0,
    tags        TEXT NOT NULL DEFAULT '', -- JSON pks of its tags, each ended by TAG_END (ls)
    folded      TEXT NOT NULL DEFAULT '', -- casefolded title, original file name and ASN
    -- The names materialize's Namer gives this version alone (no other document taken),
    -- the facts they were made from, and whether they could meet a counter-advanced or
    -- shortened name of another document (see documents/naming.py).
    name_original  TEXT,
    name_thumbnail TEXT,
    name_archive   TEXT,
    name_corr      TEXT,                -- the correspondent's name they were made with
    name_unsure    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS versions_document_type ON versions(document_type);
CREATE INDEX IF NOT EXISTS versions_unsure ON versions(span) WHERE name_unsure = 1;
-- Which documents were ever given a name, and the names more than one document was given.
CREATE TABLE IF NOT EXISTS name_owners (
    name TEXT NOT NULL,
    pk   TEXT NOT NULL,
    PRIMARY KEY (name, pk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shared (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS version_names (
    name TEXT NOT NULL,                 -- one of the version's names (any role)
    span INTEGER NOT NULL,
    PRIMARY KEY (name, span)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS versions_pk ON versions(pk);
CREATE INDEX IF NOT EXISTS versions_checksum ON versions(checksum);
CREATE INDEX IF NOT EXISTS versions_correspondent ON versions(correspondent, name_corr);
CREATE TABLE IF NOT EXISTS version_tags (
    tag  TEXT NOT NULL,                 -- JSON pk of the tag
    span INTEGER NOT NULL,
    PRIMARY KEY (tag, span)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS version_tags_span ON version_tags(span);
CREATE TABLE IF NOT EXISTS names (
    span   INTEGER PRIMARY KEY,         -- a version of a named record (tag, correspondent, ...)
    hash   BLOB NOT NULL,
    model  TEXT NOT NULL,
    pk     TEXT NOT NULL,
    name   TEXT NOT NULL,
    folded TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS names_model ON names(model, pk);
CREATE TABLE IF NOT EXISTS parts (
    span     INTEGER PRIMARY KEY,       -- a version of a record that belongs to a document
    hash     BLOB NOT NULL,
    model    TEXT NOT NULL,
    document TEXT NOT NULL              -- JSON pk of the document
);
CREATE INDEX IF NOT EXISTS parts_document ON parts(document, model);
CREATE VIRTUAL TABLE IF NOT EXISTS content USING fts5(text, content='');
"""


def open_index(path: Path) -> sqlite3.Connection:
    """Open (creating) the index file; a file of another index version is emptied."""
    if not path.exists():  # private: it holds titles and content (SQLite copies the mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # to -wal and -shm)
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA busy_timeout = 30000")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # a derived cache: a lost tail is re-indexed
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    version = None
    if has_meta:
        row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        version = int(row[0]) if row else None
    if version != INDEX_VERSION:
        _drop_all(conn)
    conn.executescript(SCHEMA)
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('version', ?)", (str(INDEX_VERSION),)
    )
    return conn


def _drop_all(conn: sqlite3.Connection) -> None:
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " AND name NOT LIKE 'content_%'"
    ).fetchall():
        conn.execute(f'DROP TABLE IF EXISTS "{name}"')


def watermark(index: sqlite3.Connection) -> tuple[int, str]:
    """The highest span id indexed so far, and that span's record hash (hex) then."""
    rows = dict(index.execute(
        "SELECT key, value FROM meta WHERE key IN ('watermark', 'watermark_hash')"
    ).fetchall())  # fmt: skip
    return int(rows.get("watermark", 0)), rows.get("watermark_hash", "")


def reset_index(index: sqlite3.Connection) -> None:
    """Empty every table (the catalog was replaced: span ids no longer line up)."""
    for table in ("versions", "version_tags", "version_names", "name_owners", "shared",
                  "names", "parts"):  # fmt: skip
        index.execute(f"DELETE FROM {table}")
    index.execute("INSERT INTO content(content) VALUES ('delete-all')")
    index.execute("DELETE FROM meta WHERE key IN ('watermark', 'watermark_hash')")


def add_rows(
    index: sqlite3.Connection,
    *,
    expect: tuple[int, str],
    versions: Iterable[tuple[Any, ...]],
    tags: Iterable[tuple[str, int]],
    version_names: Iterable[tuple[str, int]],
    name_owners: Iterable[tuple[str, str]],
    names: Iterable[tuple[Any, ...]],
    parts: Iterable[tuple[Any, ...]],
    texts: Iterable[tuple[int, str]],
    new_watermark: tuple[int, str],
) -> bool:
    """Add one batch of index rows and advance the watermark, in one transaction.

    Only if the watermark is still ``expect`` (another process may have indexed the same
    spans meanwhile): returns False, and adds nothing, when it moved.
    """
    index.execute("BEGIN IMMEDIATE")
    try:
        if watermark(index) != expect:
            index.execute("ROLLBACK")
            return False
        index.executemany(
            "INSERT OR REPLACE INTO versions (span, hash, pk, title, correspondent,"
            " document_type, asn, original_filename, checksum, archive_checksum, created,"
            " deleted_at, mime_type, file_type, has_archive, tags, folded, name_original,"
            " name_thumbnail, name_archive, name_corr, name_unsure)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            versions,
        )
        index.executemany(
            "INSERT OR IGNORE INTO version_names (name, span) VALUES (?, ?)", version_names
        )
        owners = list(name_owners)
        index.executemany("INSERT OR IGNORE INTO name_owners (name, pk) VALUES (?, ?)", owners)
        index.executemany(
            "INSERT OR IGNORE INTO shared (name) SELECT ?1"
            " WHERE (SELECT count(*) FROM name_owners WHERE name = ?1) > 1",
            [(name,) for name, _pk in owners],
        )
        index.executemany("INSERT OR IGNORE INTO version_tags (tag, span) VALUES (?, ?)", tags)
        index.executemany(
            "INSERT OR REPLACE INTO names (span, hash, model, pk, name, folded)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            names,
        )
        index.executemany(
            "INSERT OR REPLACE INTO parts (span, hash, model, document) VALUES (?, ?, ?, ?)",
            parts,
        )
        index.executemany("INSERT INTO content (rowid, text) VALUES (?, ?)", texts)
        index.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [("watermark", str(new_watermark[0])), ("watermark_hash", new_watermark[1])],
        )
        index.execute("COMMIT")
    except BaseException:
        if index.in_transaction:
            index.execute("ROLLBACK")
        raise
    return True
