"""The catalog side of garbage collection: which blobs, chunks and packs nothing live uses.

The store's collector (``store/gc.py``) hands in the ids of the live blobs and gets typed
answers back; the temporary tables ``gc_live`` and ``gc_dead`` live on this connection
only, for the length of one collection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from snapexport.catalog.content import ChunkRow, chunks_of_pack


@dataclass(frozen=True, slots=True)
class PackUse:
    """One pack holding at least one dead chunk: its size and what stays live in it."""

    id: str
    size: int
    live_chunks: int
    live_bytes: int


class Garbage:
    """One collection's questions to the catalog, in the order ``store/gc.py`` asks them."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def mark_live(self, blobs: Iterable[bytes]) -> None:
        """Start a collection: these blobs (streamed) are live."""
        conn = self._conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS gc_live (id BLOB PRIMARY KEY) WITHOUT ROWID")
        conn.execute("DELETE FROM temp.gc_live")
        self.also_live(blobs)

    def also_live(self, blobs: Iterable[bytes]) -> None:
        self._conn.executemany(
            "INSERT OR IGNORE INTO temp.gc_live (id) VALUES (?)", ((b,) for b in blobs)
        )

    def dead_blobs(self) -> list[bytes]:
        return [
            bytes(r[0])
            for r in self._conn.execute(
                "SELECT id FROM blobs WHERE id NOT IN (SELECT id FROM temp.gc_live)"
            )
        ]

    def mark_dead_chunks(self) -> int:
        """Note every chunk no live blob uses; returns how many."""
        conn = self._conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS gc_dead (id BLOB PRIMARY KEY) WITHOUT ROWID")
        conn.execute("DELETE FROM temp.gc_dead")
        conn.execute(
            "INSERT INTO temp.gc_dead SELECT c.id FROM chunks c WHERE NOT EXISTS ("
            " SELECT 1 FROM blob_chunks bc JOIN temp.gc_live l ON l.id = bc.blob"
            " WHERE bc.chunk = c.id)"
            # a live one-chunk blob without blob_chunks row uses the chunk of its own id
            " AND NOT EXISTS (SELECT 1 FROM temp.gc_live l JOIN blobs b ON b.id = l.id"
            " WHERE l.id = c.id AND b.chunks = 1"
            " AND NOT EXISTS (SELECT 1 FROM blob_chunks x WHERE x.blob = b.id))"
        )
        return int(conn.execute("SELECT count(*) FROM temp.gc_dead").fetchone()[0])

    def packs_with_dead_chunks(self) -> list[PackUse]:
        rows = self._conn.execute(
            "SELECT p.id, p.size,"
            " (SELECT count(*) FROM chunks c WHERE c.pack = n.n"
            "   AND c.id NOT IN (SELECT id FROM temp.gc_dead)),"
            " (SELECT coalesce(sum(c.length), 0) FROM chunks c WHERE c.pack = n.n"
            "   AND c.id NOT IN (SELECT id FROM temp.gc_dead))"
            " FROM packs p JOIN pack_names n ON n.id = p.id WHERE n.n IN"
            " (SELECT DISTINCT c.pack FROM chunks c JOIN temp.gc_dead d ON d.id = c.id)"
            " ORDER BY p.id"
        ).fetchall()
        return [PackUse(*r) for r in rows]

    def live_chunks_of_pack(self, pack_id: str) -> list[ChunkRow]:
        conn = self._conn
        return [
            row
            for row in chunks_of_pack(conn, pack_id)
            if conn.execute("SELECT 1 FROM temp.gc_dead WHERE id = ?", (row.id,)).fetchone() is None
        ]

    def delete_blobs(self, blobs: Sequence[bytes]) -> None:
        """Drop dead blob rows and their chunk lists; the caller owns the transaction."""
        self._conn.executemany("DELETE FROM blob_chunks WHERE blob = ?", [(b,) for b in blobs])
        self._conn.executemany("DELETE FROM blobs WHERE id = ?", [(b,) for b in blobs])
