"""The catalog's ``meta`` table: every key it may hold, and the one way to read and write one."""

from __future__ import annotations

import sqlite3
from enum import StrEnum


class MetaKey(StrEnum):
    """Every key of the ``meta`` table (docs/format.md describes their values)."""

    SCHEMA_VERSION = "schema_version"
    #: the sequence number the next committed snapshot gets (never reused)
    NEXT_SEQ = "next_seq"
    #: forgotten sequence numbers whose spans a prune has not collected yet
    UNCOLLECTED = "uncollected"
    #: JSON list of pack names a collection dropped from the catalog but not yet deleted
    PENDING_PACK_DELETES = "pending_pack_deletes"
    #: set while a writer has the store open; left set by a crash
    OPEN_WRITER = "open_writer"
    #: JSON {"gen", "state", "blob", "header"} of the newest catalog image
    CATALOG_IMAGE = "catalog_image"
    #: JSON list of every catalog image blob id not yet collected
    CATALOG_IMAGE_BLOBS = "catalog_image_blobs"
    #: ISO time (the run's clock) of the last prune ``snapexport run`` made
    RUN_LAST_PRUNE = "run.last_prune"
    #: ``n/M``: the slice of the packs the last rolling check of ``run`` read
    RUN_CHECK_SLICE = "run.check_slice"
    #: JSON {"gen", "blob", "header", "kind"} of the newest catalog journal entry
    JOURNAL_HEAD = "journal_head"
    #: JSON of a catalog journal entry being written (docs/format.md, "Store format 3")
    JOURNAL_PENDING = "journal_pending"
    #: set by the upgrade to catalog schema 4 when changes no delta carries were pending:
    #: the next catalog journal entry must be a checkpoint
    CHECKPOINT_DUE = "checkpoint_due"


def read(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (str(key),)).fetchone()
    return None if row is None else str(row[0])


def write(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    """Set (or with None, delete) a key; runs in the caller's transaction if any."""
    if value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", (str(key),))
    else:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(key), value),
        )
