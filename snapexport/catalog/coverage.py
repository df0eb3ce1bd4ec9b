"""What a set of snapshots needs from the store: its packs, and references that do not resolve.

``check SNAPSHOT...`` proves only what those snapshots need: the packs holding the chunks of
their files' blobs, every file's blob row, every record's text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from snapexport.catalog.chunkrefs import BLOB_CHUNK
from snapexport.catalog.modelids import model_name

_ALIVE = "f.born <= :seq AND (f.died IS NULL OR f.died > :seq)"


class Coverage:
    """What snapshots need, on one open catalog (read only)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def packs_needed(self, seq: int) -> Iterator[str]:
        return packs_needed(self._conn, seq)

    def files_without_blob(self, seq: int) -> Iterator[tuple[str, bytes]]:
        return files_without_blob(self._conn, seq)

    def records_without_text(self, seq: int) -> Iterator[tuple[str, str]]:
        return records_without_text(self._conn, seq)


def packs_needed(conn: sqlite3.Connection, seq: int) -> Iterator[str]:
    """Ids of the packs holding a chunk of a file snapshot ``seq`` holds."""
    for (pack,) in conn.execute(
        "SELECT n.id FROM pack_names n WHERE n.n IN (SELECT c.pack FROM file_spans f"
        " JOIN blobs b ON b.id = f.blob LEFT JOIN blob_chunks bc ON bc.blob = b.id"
        f" JOIN chunks c ON c.id = {BLOB_CHUNK} WHERE {_ALIVE})",
        {"seq": seq},
    ):
        yield pack


def files_without_blob(conn: sqlite3.Connection, seq: int) -> Iterator[tuple[str, bytes]]:
    """(path, blob id) of files snapshot ``seq`` holds whose blob the catalog lacks."""
    for path, blob in conn.execute(
        f"SELECT f.path, f.blob FROM file_spans f WHERE {_ALIVE}"
        " AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = f.blob)",
        {"seq": seq},
    ):
        yield path, bytes(blob)


def records_without_text(conn: sqlite3.Connection, seq: int) -> Iterator[tuple[str, str]]:
    """(model, pk) of records snapshot ``seq`` holds whose text the catalog lacks."""
    yield from conn.execute(
        f"SELECT {model_name('f.model')}, f.pk FROM record_spans f"
        f" WHERE {_ALIVE} AND NOT EXISTS (SELECT 1 FROM record_data d WHERE d.hash = f.hash)",
        {"seq": seq},
    )
