"""How the catalog names packs and blob chunks in SQL (schema 3, docs/format.md).

``chunks.pack`` holds a pack's number (``pack_names.n``), never its 64-hex name; a
one-chunk blob whose chunk id is its own id has no ``blob_chunks`` row. The fragments here
say both once for every query of catalog/ that needs them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

# A chunk row with its pack's hex name, for ``ChunkRow``.
CHUNK_ROW = (
    "SELECT c.id, n.id, c.offset, c.length, c.size, c.codec"
    " FROM chunks c JOIN pack_names n ON n.n = c.pack"
)
PACK_NUMBER = "(SELECT n FROM pack_names WHERE id = ?)"

# A one-chunk blob whose chunk id is the blob id (every one-chunk blob snapexport writes:
# the blob id is the hash of the whole content, which is that chunk) has no blob_chunks
# row: for ``b`` a blobs row and ``bc`` its (left-joined) blob_chunks rows, this is the
# chunk at each position.
BLOB_CHUNK = "coalesce(bc.chunk, CASE WHEN b.chunks = 1 THEN b.id END)"
_IMPLIED = "b.chunks = 1 AND NOT EXISTS (SELECT 1 FROM blob_chunks x WHERE x.blob = b.id)"


def is_its_own_chunk(blob_id: bytes, chunks: Sequence[bytes]) -> bool:
    """Whether a blob is one chunk whose id is its own: it gets no blob_chunks row."""
    return len(chunks) == 1 and chunks[0] == blob_id


def blobs_using(chunk_filter: str) -> str:
    """SQL selecting the ids of blobs that use a chunk ``c`` matching ``chunk_filter``."""
    return (
        "SELECT bc.blob FROM chunks c JOIN blob_chunks bc ON bc.chunk = c.id"
        f" WHERE {chunk_filter} UNION SELECT b.id FROM chunks c JOIN blobs b ON b.id = c.id"
        f" WHERE {chunk_filter} AND {_IMPLIED}"
    )


def pack_numbers(conn: sqlite3.Connection, names: Iterable[str]) -> dict[str, int]:
    """The number of each pack name, numbering names seen for the first time."""
    out: dict[str, int] = {}
    for name in dict.fromkeys(names):
        conn.execute("INSERT OR IGNORE INTO pack_names (id) VALUES (?)", (name,))
        out[name] = conn.execute("SELECT n FROM pack_names WHERE id = ?", (name,)).fetchone()[0]
    return out


def forget_pack_names(conn: sqlite3.Connection, names: Iterable[str]) -> None:
    """Drop the numbers of packs nothing names any more (no packs row, no chunk row)."""
    conn.executemany(
        "DELETE FROM pack_names WHERE id = ? AND id NOT IN (SELECT id FROM packs)"
        " AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.pack = pack_names.n)",
        [(n,) for n in names],
    )


def pack_number(conn: sqlite3.Connection, pack_id: str) -> int | None:
    row = conn.execute("SELECT n FROM pack_names WHERE id = ?", (pack_id,)).fetchone()
    return None if row is None else int(row[0])
