"""Queries on the content tables: packs, pack_names, chunks, blobs and blob_chunks.

``chunks.pack`` holds a pack's number (``pack_names.n``), never its 64-hex name: every
query here maps names to numbers and back, so callers only ever see pack names.

Bulk questions ("which of these 5,000 chunk ids exist?") run as a few batched ``IN`` queries,
never one query per id.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from snapexport.catalog.chunkrefs import (
    BLOB_CHUNK,
    CHUNK_ROW,
    PACK_NUMBER,
    blobs_using,
    forget_pack_names,
    is_its_own_chunk,
    pack_number,
    pack_numbers,
)

T = TypeVar("T")
BATCH = 500  # ids per IN (...) list; well below SQLite's variable limit


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """One chunk's catalog row: where its stored bytes are and how to decode them."""

    id: bytes
    pack: str
    offset: int
    length: int
    size: int
    codec: int


# A blob's chunks in order, each with its chunk row (None where the row is missing).
BlobChunkRows = list[tuple[bytes, ChunkRow | None]]


@dataclass(frozen=True, slots=True)
class PackRow:
    id: str
    size: int
    chunks: int
    created: str


@dataclass(frozen=True, slots=True)
class ContentTotals:
    """Counts and byte sums over the content tables (``snapexport stats``)."""

    packs: int
    pack_bytes: int
    chunks: int
    chunk_plain_bytes: int
    chunk_stored_bytes: int
    blobs: int
    blob_bytes: int


def batched(items: Iterable[T], size: int = BATCH) -> Iterator[list[T]]:
    """Lists of up to ``size`` items, in order (``itertools.batched`` from Python 3.12)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _existing(conn: sqlite3.Connection, table: str, ids: Iterable[bytes]) -> set[bytes]:
    found: set[bytes] = set()
    for batch in batched(ids):
        marks = ",".join("?" * len(batch))
        found.update(
            bytes(r[0])
            for r in conn.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", batch)
        )
    return found


def existing_chunks(conn: sqlite3.Connection, ids: Iterable[bytes]) -> set[bytes]:
    """The subset of ``ids`` that have a chunk row."""
    return _existing(conn, "chunks", ids)


def has_chunks(conn: sqlite3.Connection) -> bool:
    """Whether any chunk is indexed at all (a new store's first snapshot finds none)."""
    return conn.execute("SELECT 1 FROM chunks LIMIT 1").fetchone() is not None


def existing_blobs(conn: sqlite3.Connection, ids: Iterable[bytes]) -> set[bytes]:
    """The subset of ``ids`` that have a blob row."""
    return _existing(conn, "blobs", ids)


def blob_size(conn: sqlite3.Connection, blob_id: bytes) -> int | None:
    row = conn.execute("SELECT size FROM blobs WHERE id = ?", (blob_id,)).fetchone()
    return None if row is None else int(row[0])


def blob_chunk_ids(conn: sqlite3.Connection, blob_id: bytes) -> list[bytes]:
    rows = conn.execute(
        f"SELECT {BLOB_CHUNK} FROM blobs b LEFT JOIN blob_chunks bc ON bc.blob = b.id"
        " WHERE b.id = ? ORDER BY bc.seq",
        (blob_id,),
    )
    return [bytes(r[0]) for r in rows if r[0] is not None]


def blob_chunk_rows(
    conn: sqlite3.Connection, blob_ids: Sequence[bytes]
) -> dict[bytes, BlobChunkRows]:
    """Each blob's chunks in order, each with its chunk row (None where the row is missing).

    One query per ``BATCH`` blobs for what ``blob_size``, ``blob_chunk_ids`` and
    ``chunk_rows`` answer in three per blob; a blob not in the catalog is absent, the empty
    blob maps to ``[]``.
    """
    out: dict[bytes, BlobChunkRows] = {}
    for batch in batched(dict.fromkeys(blob_ids)):
        marks = ",".join("?" * len(batch))
        for blob, chunk, pack, offset, length, size, codec in conn.execute(
            f"SELECT b.id, {BLOB_CHUNK}, n.id, c.offset, c.length, c.size, c.codec"
            " FROM blobs AS b"
            " LEFT JOIN blob_chunks AS bc ON bc.blob = b.id"
            f" LEFT JOIN chunks AS c ON c.id = {BLOB_CHUNK}"
            " LEFT JOIN pack_names AS n ON n.n = c.pack"
            f" WHERE b.id IN ({marks}) ORDER BY b.id, bc.seq",
            batch,
        ):
            rows = out.setdefault(bytes(blob), [])
            if chunk is None:  # the blob has no chunks (the empty blob)
                continue
            cid = bytes(chunk)
            rows.append(
                (cid, None if pack is None else ChunkRow(cid, pack, offset, length, size, codec))
            )
    return out


def chunk_rows(conn: sqlite3.Connection, ids: Sequence[bytes]) -> dict[bytes, ChunkRow]:
    """Chunk rows for ``ids`` (missing ids are simply absent), batched."""
    out: dict[bytes, ChunkRow] = {}
    for batch in batched(ids):
        marks = ",".join("?" * len(batch))
        for r in conn.execute(
            f"{CHUNK_ROW} WHERE c.id IN ({marks})",
            batch,
        ):
            out[bytes(r[0])] = ChunkRow(bytes(r[0]), r[1], r[2], r[3], r[4], r[5])
    return out


def chunks_in_other_packs(
    conn: sqlite3.Connection, ids: Iterable[bytes], pack_id: str
) -> set[bytes]:
    """Those of ``ids`` whose chunk row names a listed pack other than ``pack_id``.

    A chunk row naming ``pack_id`` itself, or a pack without a ``packs`` row, is no second
    copy: deleting ``pack_id`` on its strength would lose the only one.
    """
    found: set[bytes] = set()
    for batch in batched(dict.fromkeys(ids)):
        marks = ",".join("?" * len(batch))
        found.update(
            bytes(r[0])
            for r in conn.execute(
                "SELECT c.id FROM chunks c JOIN pack_names n ON n.n = c.pack"
                f" JOIN packs p ON p.id = n.id WHERE c.id IN ({marks}) AND n.id != ?",
                [*batch, pack_id],
            )
        )
    return found


def pack_is_referenced(conn: sqlite3.Connection, pack_id: str) -> bool:
    """Whether any chunk row names ``pack_id`` (listed in ``packs`` or not)."""
    row = conn.execute(
        f"SELECT 1 FROM chunks WHERE pack = {PACK_NUMBER} LIMIT 1", (pack_id,)
    ).fetchone()
    return row is not None


def chunks_of_pack(conn: sqlite3.Connection, pack_id: str) -> list[ChunkRow]:
    rows = conn.execute(
        f"{CHUNK_ROW} WHERE c.pack = {PACK_NUMBER} ORDER BY c.offset",
        (pack_id,),
    )
    return [ChunkRow(bytes(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _numbered(
    conn: sqlite3.Connection, pack_id: str, chunks: Iterable[ChunkRow]
) -> list[tuple[bytes, int, int, int, int, int]]:
    listed = list(chunks)
    number = pack_numbers(conn, [pack_id, *(c.pack for c in listed)])
    return [(c.id, number[c.pack], c.offset, c.length, c.size, c.codec) for c in listed]


def insert_pack(
    conn: sqlite3.Connection, pack_id: str, size: int, chunks: Iterable[ChunkRow]
) -> int:
    """Insert a pack row and its chunk rows; chunks already indexed elsewhere are kept there.

    Returns how many chunk rows were new.
    """
    rows = _numbered(conn, pack_id, chunks)
    conn.execute(
        "INSERT OR IGNORE INTO packs (id, size, chunks, created) VALUES (?, ?, ?, ?)",
        (pack_id, size, len(rows), now_iso()),
    )
    cur = conn.executemany(
        "INSERT OR IGNORE INTO chunks (id, pack, offset, length, size, codec) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return cur.rowcount  # the statement's own rows: not what triggers wrote


def adopt_pack(
    conn: sqlite3.Connection, pack_id: str, size: int, chunks: Iterable[ChunkRow]
) -> int:
    """Register a verified pack file found without a ``packs`` row.

    Like ``insert_pack``, but a chunk row naming a pack the catalog does not list is moved
    to this pack, which verifiably holds the chunk. Returns how many chunk rows changed.
    """
    rows = _numbered(conn, pack_id, chunks)
    conn.execute(
        "INSERT OR IGNORE INTO packs (id, size, chunks, created) VALUES (?, ?, ?, ?)",
        (pack_id, size, len(rows), now_iso()),
    )
    cur = conn.executemany(
        "INSERT INTO chunks (id, pack, offset, length, size, codec) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET pack = excluded.pack, offset = excluded.offset,"
        " length = excluded.length, size = excluded.size, codec = excluded.codec"
        " WHERE chunks.pack NOT IN (SELECT n.n FROM pack_names n JOIN packs p ON p.id = n.id)",
        rows,
    )
    return cur.rowcount


def insert_blob(
    conn: sqlite3.Connection, blob_id: bytes, size: int, chunks: Sequence[bytes]
) -> bool:
    """Insert one blob and its ordered chunk list; False when the blob already existed.

    A one-chunk blob whose chunk id is its own id gets no blob_chunks row (``BLOB_CHUNK``).
    """
    cur = conn.execute(
        "INSERT OR IGNORE INTO blobs (id, size, chunks) VALUES (?, ?, ?)",
        (blob_id, size, len(chunks)),
    )
    if cur.rowcount and not is_its_own_chunk(blob_id, chunks):
        conn.executemany(
            "INSERT INTO blob_chunks (blob, seq, chunk) VALUES (?, ?, ?)",
            [(blob_id, i, c) for i, c in enumerate(chunks)],
        )
    return bool(cur.rowcount)


def insert_blobs(
    conn: sqlite3.Connection, blobs: Sequence[tuple[bytes, int, Sequence[bytes]]]
) -> int:
    """``insert_blob`` for many ``(id, size, chunks)``; returns how many were new. The
    one-chunk blobs that are their own chunk (most of a site's files) go in one statement."""
    plain = [(b, size, 1) for b, size, chunks in blobs if is_its_own_chunk(b, chunks)]
    cur = conn.executemany("INSERT OR IGNORE INTO blobs (id, size, chunks) VALUES (?, ?, ?)", plain)
    new = cur.rowcount  # the statement's own rows: the journal's triggers write more
    for b, size, chunks in blobs:
        if not is_its_own_chunk(b, chunks):
            new += insert_blob(conn, b, size, chunks)
    return new


_LOST_NUMBERS = "(SELECT n FROM pack_names WHERE id IN (SELECT id FROM temp.lost_packs))"


def drop_packs(conn: sqlite3.Connection, pack_ids: Sequence[str]) -> list[bytes]:
    """Forget packs that are gone: their rows, their chunks' rows, and the rows of every
    blob that needed one of those chunks (returned). Run inside a transaction."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS lost_packs (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.lost_packs")
    conn.executemany("INSERT OR IGNORE INTO temp.lost_packs (id) VALUES (?)",
                     [(p,) for p in pack_ids])  # fmt: skip
    blobs = [bytes(r[0]) for r in conn.execute(blobs_using(f"c.pack IN {_LOST_NUMBERS}"))]
    conn.execute(f"DELETE FROM chunks WHERE pack IN {_LOST_NUMBERS}")
    conn.execute("DELETE FROM packs WHERE id IN (SELECT id FROM temp.lost_packs)")
    forget_pack_names(conn, pack_ids)
    delete_blobs(conn, blobs)
    conn.execute("DELETE FROM temp.lost_packs")
    return blobs


def lost_files(conn: sqlite3.Connection) -> list[tuple[int, str, bool, int, str]]:
    """Per snapshot that holds files whose blob is not stored (their content was in a pack
    that went missing): (seq, id, complete flag, how many, first path), oldest first."""
    return [
        (r[0], r[1], bool(r[2]), r[3], r[4])
        for r in conn.execute(
            "SELECT s.seq, s.id, s.complete, count(*), min(f.path) FROM file_spans f"
            " JOIN snapshots s ON s.seq >= f.born AND (f.died IS NULL OR s.seq < f.died)"
            " WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = f.blob)"
            " GROUP BY s.seq ORDER BY s.seq"
        )
    ]


def snapshots_needing_pack(conn: sqlite3.Connection, pack_id: str) -> list[tuple[str, int]]:
    """(snapshot id, files) of every snapshot holding a file with content in ``pack_id``."""
    return [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT s.id, count(DISTINCT f.path)"
            f" FROM ({blobs_using('c.pack = :pack')}) u JOIN file_spans f ON f.blob = u.blob"
            " JOIN snapshots s ON s.seq >= f.born AND (f.died IS NULL OR s.seq < f.died)"
            " GROUP BY s.seq ORDER BY s.seq",
            {"pack": pack_number(conn, pack_id)},
        )
    ]


def mark_complete(conn: sqlite3.Connection, seqs: Iterable[int], complete: bool) -> None:
    """Set the snapshots' complete flag (repair marks snapshots that lost content)."""
    conn.executemany(
        "UPDATE snapshots SET complete = ? WHERE seq = ?", [(int(complete), s) for s in seqs]
    )


def whole_but_marked_incomplete(conn: sqlite3.Connection) -> list[int]:
    """Snapshots flagged incomplete that miss nothing now (content stored again since)."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT s.seq FROM snapshots s WHERE s.complete = 0"
            " AND NOT EXISTS (SELECT 1 FROM snapshot_missing m WHERE m.seq = s.seq)"
            " AND NOT EXISTS (SELECT 1 FROM file_spans f WHERE f.born <= s.seq"
            "   AND (f.died IS NULL OR f.died > s.seq)"
            "   AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.id = f.blob))"
        )
    ]


def delete_blobs(conn: sqlite3.Connection, ids: Iterable[bytes]) -> None:
    """Delete blob rows and their chunk lists (the chunks stay until their pack goes)."""
    rows = [(b,) for b in ids]
    conn.executemany("DELETE FROM blob_chunks WHERE blob = ?", rows)
    conn.executemany("DELETE FROM blobs WHERE id = ?", rows)


def packs(conn: sqlite3.Connection) -> Iterator[PackRow]:
    for r in conn.execute("SELECT id, size, chunks, created FROM packs ORDER BY id"):
        yield PackRow(r[0], r[1], r[2], r[3])


def pack_ids(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT id FROM packs")}


def delete_packs(conn: sqlite3.Connection, ids: Iterable[str]) -> None:
    conn.executemany("DELETE FROM packs WHERE id = ?", [(i,) for i in ids])


def totals(conn: sqlite3.Connection) -> ContentTotals:
    p = conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM packs").fetchone()
    c = conn.execute(
        "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(length), 0) FROM chunks"
    ).fetchone()
    b = conn.execute("SELECT count(*), coalesce(sum(size), 0) FROM blobs").fetchone()
    return ContentTotals(p[0], p[1], c[0], c[1], c[2], b[0], b[1])


def chunks_of_kind(conn: sqlite3.Connection, kind: int) -> list[ChunkRow]:
    """Chunk rows whose pack index entry has ``kind`` (the high nibble of ``codec``)."""
    rows = conn.execute(
        f"{CHUNK_ROW} WHERE (c.codec >> 4) = ?",
        (kind,),
    )
    return [ChunkRow(bytes(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def chunk_size(conn: sqlite3.Connection, chunk_id: bytes) -> int | None:
    row = conn.execute("SELECT size FROM chunks WHERE id = ?", (chunk_id,)).fetchone()
    return None if row is None else int(row[0])


def forget_packs(conn: sqlite3.Connection, ids: Sequence[str]) -> None:
    """Drop the rows of packs that are gone, with their chunk rows."""
    conn.executemany(f"DELETE FROM chunks WHERE pack = {PACK_NUMBER}", [(p,) for p in ids])
    delete_packs(conn, ids)
    forget_pack_names(conn, ids)


class Content:
    """The content tables of one open catalog (packs, chunks, blobs), as typed questions.

    Writers call the ``insert_*``/``forget_*`` methods inside ``Catalog.transaction()``.
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def existing_chunks(self, ids: Iterable[bytes]) -> set[bytes]:
        return existing_chunks(self._conn, ids)

    def has_chunks(self) -> bool:
        return has_chunks(self._conn)

    def existing_blobs(self, ids: Iterable[bytes]) -> set[bytes]:
        return existing_blobs(self._conn, ids)

    def blob_size(self, blob_id: bytes) -> int | None:
        return blob_size(self._conn, blob_id)

    def blob_chunk_ids(self, blob_id: bytes) -> list[bytes]:
        return blob_chunk_ids(self._conn, blob_id)

    def blob_chunk_rows(self, blob_ids: Sequence[bytes]) -> dict[bytes, BlobChunkRows]:
        return blob_chunk_rows(self._conn, blob_ids)

    def chunk_rows(self, ids: Sequence[bytes]) -> dict[bytes, ChunkRow]:
        return chunk_rows(self._conn, ids)

    def chunks_of_pack(self, pack_id: str) -> list[ChunkRow]:
        return chunks_of_pack(self._conn, pack_id)

    def chunks_in_other_packs(self, ids: Iterable[bytes], pack_id: str) -> set[bytes]:
        return chunks_in_other_packs(self._conn, ids, pack_id)

    def pack_is_referenced(self, pack_id: str) -> bool:
        return pack_is_referenced(self._conn, pack_id)

    def chunks_of_kind(self, kind: int) -> list[ChunkRow]:
        return chunks_of_kind(self._conn, kind)

    def chunk_size(self, chunk_id: bytes) -> int | None:
        return chunk_size(self._conn, chunk_id)

    def packs(self) -> Iterator[PackRow]:
        return packs(self._conn)

    def pack_ids(self) -> set[str]:
        return pack_ids(self._conn)

    def totals(self) -> ContentTotals:
        return totals(self._conn)

    def insert_pack(self, pack_id: str, size: int, chunks: Iterable[ChunkRow]) -> int:
        return insert_pack(self._conn, pack_id, size, chunks)

    def adopt_pack(self, pack_id: str, size: int, chunks: Iterable[ChunkRow]) -> int:
        return adopt_pack(self._conn, pack_id, size, chunks)

    def insert_blob(self, blob_id: bytes, size: int, chunks: Sequence[bytes]) -> bool:
        return insert_blob(self._conn, blob_id, size, chunks)

    def insert_blobs(self, blobs: Sequence[tuple[bytes, int, Sequence[bytes]]]) -> int:
        return insert_blobs(self._conn, blobs)

    def forget_packs(self, ids: Sequence[str]) -> None:
        forget_packs(self._conn, ids)

    def forget_blobs(self, ids: Iterable[bytes]) -> None:
        delete_blobs(self._conn, ids)

    def drop_lost_packs(self, pack_ids: Sequence[str]) -> list[bytes]:
        """Forget packs that are gone with every blob that needed them (returned)."""
        return drop_packs(self._conn, pack_ids)

    def lost_files(self) -> list[tuple[int, str, bool, int, str]]:
        return lost_files(self._conn)

    def snapshots_needing_pack(self, pack_id: str) -> list[tuple[str, int]]:
        return snapshots_needing_pack(self._conn, pack_id)

    def mark_complete(self, seqs: Iterable[int], complete: bool) -> None:
        mark_complete(self._conn, seqs, complete)

    def whole_but_marked_incomplete(self) -> list[int]:
        return whole_but_marked_incomplete(self._conn)
