"""Blobs prepared off the writer's thread: cut, hashed and looked up in the catalog.

A snapshot reads the next files on other threads while the writer stores the one before
(``filewalk.py``). ``Preparer.prepare`` runs there: FastCDC, BLAKE3 and the catalog query
for the chunks already stored all release the GIL, so that work overlaps with the writer's.
Each calling thread gets a chunker and a read-only catalog connection of its own.

The catalog answers as of the query; the writer may commit some of the same chunks before
the prepared blob is stored. ``CommitLog`` remembers the chunk ids of the writer's last
``RECENT_COMMITS`` pack commits, numbered: ``known_since`` adds those committed after the
query, or says to ask the catalog again when commits since then were forgotten. A chunk is
thus never stored twice by one writer.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections import deque
from dataclasses import dataclass

from snapexport.catalog.db import Catalog
from snapexport.store.chunker import Chunker, ChunkerParams
from snapexport.store.ids import Ids

RECENT_COMMITS = 16  # pack commits remembered for prepared blobs (about 16 packs ahead)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A blob cut into chunks and hashed (``BlobStore.prepare``), ready to be stored."""

    size: int
    id: bytes
    chunks: list[tuple[memoryview, bytes]]  # (chunk bytes, chunk id), in order
    # Chunk ids the catalog held when prepared, and how many packs the writer had committed
    # just before that query (None: not looked up; the writer asks the catalog itself).
    known: frozenset[bytes] = frozenset()
    seen_commits: int | None = None


class Preparer:
    """``prepare`` for any number of threads: each has its own chunker and connection."""

    def __init__(self, params: ChunkerParams, ids: Ids, catalog: Catalog) -> None:
        self._params = params
        self._ids = ids
        self._catalog = catalog
        self._local = threading.local()
        self._readers: list[Catalog] = []
        self._lock = threading.Lock()

    def prepare(self, data: bytes, commits: int) -> Prepared:
        """Cut and hash ``data``; ``commits`` is the writer's commit count right now."""
        chunker: Chunker | None = getattr(self._local, "chunker", None)
        if chunker is None:
            chunker = self._local.chunker = Chunker(self._params)
        ids = self._ids
        chunks = [(c, ids.of(c)) for c in chunker.chunks_of(data)]
        blob_hash = ids.blob_hash()
        for chunk, chunk_id in chunks:
            blob_hash.add(chunk, chunk_id)
        blob_id = blob_hash.digest()
        reader = self._reader()
        if reader is None or not chunks:
            return Prepared(len(data), blob_id, chunks)
        try:
            known = reader.content.existing_chunks({cid for _, cid in chunks})
        except sqlite3.Error:
            return Prepared(len(data), blob_id, chunks)
        return Prepared(len(data), blob_id, chunks, frozenset(known), commits)

    def _reader(self) -> Catalog | None:
        if not hasattr(self._local, "reader"):
            reader: Catalog | None
            try:
                reader = self._catalog.sibling_reader()
            except sqlite3.Error:
                reader = None
            self._local.reader = reader
            if reader is not None:
                with self._lock:
                    self._readers.append(reader)
        found: Catalog | None = self._local.reader
        return found

    def close(self) -> None:
        with self._lock:
            readers, self._readers = self._readers, []
        for reader in readers:
            with contextlib.suppress(Exception):
                reader.close()


class CommitLog:
    """The writer's pack commits, numbered, with the chunk ids of the last few."""

    def __init__(self) -> None:
        self.count = 0
        self._recent: deque[tuple[int, frozenset[bytes]]] = deque(maxlen=RECENT_COMMITS)

    def record(self, sealed: set[bytes]) -> None:
        """A pack's chunk rows were just committed (before the count moves on)."""
        self._recent.append((self.count + 1, frozenset(sealed)))
        self.count += 1

    def known_since(self, prepared: Prepared) -> frozenset[bytes] | None:
        """The chunks of ``prepared`` the catalog holds now, without asking it: those it
        held when prepared plus those committed since; None when the commits since then
        are no longer all remembered (the caller asks the catalog)."""
        seen = prepared.seen_commits
        if seen is None:
            return None
        if seen < self.count and (not self._recent or self._recent[0][0] > seen + 1):
            return None
        known = set(prepared.known)
        for serial, sealed in self._recent:
            if serial > seen:
                known.update(cid for _, cid in prepared.chunks if cid in sealed)
        return frozenset(known)
