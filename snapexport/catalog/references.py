"""The catalog's references, as ``check`` walks them: which ones do not resolve.

Every question streams its answer (a store may hold millions of chunks) and names the
referring and the missing object, so the checker can word one line per problem.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

from snapexport.catalog.chunkrefs import BLOB_CHUNK


class BlobTally(NamedTuple):
    """A blob's row against its chunk list: chunks listed, and the plain bytes they add up to."""

    blob: bytes
    size: int
    chunks: int
    listed: int
    total: int


class References:
    """Reference checks on one open catalog (read only)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def file_spans_missing_blobs(self) -> Iterator[tuple[str, int, bytes]]:
        """(path, born, blob) of every file span whose blob has no blob row."""
        for path, born, blob in self._conn.execute(
            "SELECT f.path, f.born, f.blob FROM file_spans f"
            " WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = f.blob)"
            " ORDER BY f.path, f.born"
        ):
            yield path, born, bytes(blob)

    def record_spans_missing_texts(self) -> Iterator[tuple[str, str, int, bytes]]:
        """(model, pk, born, hash) of every record span whose text is not stored."""
        for model, pk, born, h in self._conn.execute(
            "SELECT m.name, s.pk, s.born, s.hash FROM record_spans s"
            " LEFT JOIN models m ON m.id = s.model"
            " WHERE NOT EXISTS (SELECT 1 FROM record_data d WHERE d.hash = s.hash)"
            " ORDER BY m.name, s.pk, s.born"
        ):
            yield model, pk, born, bytes(h)

    def chunk_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def blob_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM blobs").fetchone()[0])

    def packs_missing_rows(self) -> Iterator[str]:
        """Packs that chunk rows name but the packs table does not list."""
        for (pid,) in self._conn.execute(
            "SELECT n.id FROM pack_names n WHERE n.id NOT IN (SELECT id FROM packs)"
            " AND EXISTS (SELECT 1 FROM chunks c WHERE c.pack = n.n)"
        ):
            yield pid

    def chunks_missing_rows(self) -> Iterator[tuple[bytes, bytes]]:
        """(blob, chunk) for every chunk a blob lists that has no chunk row, in list order."""
        for blob, chunk in self._conn.execute(
            f"SELECT b.id, {BLOB_CHUNK} FROM blobs b LEFT JOIN blob_chunks bc ON bc.blob = b.id"
            f" WHERE {BLOB_CHUNK} IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = {BLOB_CHUNK})"
            " ORDER BY b.id, bc.seq"
        ):
            yield bytes(blob), bytes(chunk)

    def blob_tallies(self) -> Iterator[BlobTally]:
        for blob_id, size, nchunks, listed, total in self._conn.execute(
            f"SELECT b.id, b.size, b.chunks, count({BLOB_CHUNK}), coalesce(sum(c.size), 0)"
            " FROM blobs b LEFT JOIN blob_chunks bc ON bc.blob = b.id"
            f" LEFT JOIN chunks c ON c.id = {BLOB_CHUNK} GROUP BY b.id"
        ):
            yield BlobTally(bytes(blob_id), size, nchunks, listed, total)
