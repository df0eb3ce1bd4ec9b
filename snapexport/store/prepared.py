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

``CommitLog`` also keeps every chunk id the writer committed in a Bloom filter of fixed
size (``ChunkFilter``). When the catalog indexed no chunk at all before the writer's first
commit (a new store's first snapshot), every chunk it can hold went through that filter, so
the catalog is asked only about the ids the filter may hold: a first snapshot makes almost
no query per file (each one costs a read transaction and GIL hand-offs; measured in
docs/performance.md).
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
# The chunk filter: 4 probes of 23 bits each, taken from an id's first 12 bytes, into 2**23
# bits (1 MiB): 2 % false "maybe" at a million chunks, 0.03 % at 300,000.
_PROBES, _PROBE_BITS = 4, 23
FILTER_BYTES = (1 << _PROBE_BITS) >> 3
_PROBE_MASK = (1 << _PROBE_BITS) - 1


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

    def __init__(
        self, params: ChunkerParams, ids: Ids, catalog: Catalog, commits: CommitLog
    ) -> None:
        self._params = params
        self._ids = ids
        self._catalog = catalog
        self._commits = commits
        self._local = threading.local()
        self._readers: list[Catalog] = []
        self._lock = threading.Lock()
        # whether the writer's filter alone says which chunks the catalog may hold (None:
        # not decided yet; decided on the first query, see the module's docstring)
        self._filter_only: bool | None = None

    def prepare(self, data: bytes) -> Prepared:
        """Cut and hash ``data`` and find which of its chunks the catalog holds."""
        commits = self._commits.count  # before the query: commits after it are added later
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
        ask = {cid for _, cid in chunks}
        try:
            if self._filter_decides(reader, commits):
                maybe = self._commits.committed.may_hold
                ask = {cid for cid in ask if maybe(cid)}
            known = reader.content.existing_chunks(ask) if ask else set()
        except sqlite3.Error:
            return Prepared(len(data), blob_id, chunks)
        return Prepared(len(data), blob_id, chunks, frozenset(known), commits)

    def _filter_decides(self, reader: Catalog, commits: int) -> bool:
        """Whether only the ids the writer's filter may hold need asking: true when the
        writer had committed nothing and the catalog indexed no chunk (checked once)."""
        if self._filter_only is None:
            with self._lock:
                if self._filter_only is None:
                    self._filter_only = commits == 0 and not reader.content.has_chunks()
        return self._filter_only

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


class ChunkFilter:
    """Chunk ids added so far, as a Bloom filter of ``FILTER_BYTES``: ``may_hold`` is False
    only for an id never added. Ids are uniformly random, so their own bits are the probes.
    One thread adds; any may ask (an id added while asked may be missed, never invented)."""

    __slots__ = ("_bits",)

    def __init__(self) -> None:
        self._bits = bytearray(FILTER_BYTES)

    def add(self, chunk_id: bytes) -> None:
        bits = self._bits
        for p in _probes(chunk_id):
            bits[p >> 3] |= 1 << (p & 7)

    def may_hold(self, chunk_id: bytes) -> bool:
        bits = self._bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in _probes(chunk_id))


def _probes(chunk_id: bytes) -> list[int]:
    v = int.from_bytes(chunk_id[:12], "little")
    return [(v >> (_PROBE_BITS * i)) & _PROBE_MASK for i in range(_PROBES)]


class CommitLog:
    """The writer's pack commits, numbered, with the chunk ids of the last few, and a
    filter of every chunk id committed."""

    def __init__(self) -> None:
        self.count = 0
        self._recent: deque[tuple[int, frozenset[bytes]]] = deque(maxlen=RECENT_COMMITS)
        self.committed = ChunkFilter()

    def record(self, sealed: set[bytes]) -> None:
        """A pack's chunk rows were just committed (before the count moves on, so that a
        reader of ``count`` finds those chunks in the filter already)."""
        add = self.committed.add
        for chunk_id in sealed:
            add(chunk_id)
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
