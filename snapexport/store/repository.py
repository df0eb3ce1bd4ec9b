"""``BlobStore``: put and read blobs through chunker, codecs, packs, backend and catalog.

Writing is a small pipeline. The calling thread reads and cuts the stream and feeds the
blob hash; a thread pool hashes chunks and compresses the new ones (BLAKE3 and zstd release
the GIL); the calling thread appends finished payloads to the open pack in order. A sealed
pack is fsynced and saved under its name first, and only then are its pack and chunk rows,
together with every pending blob whose chunks are now all durable, committed in one short
transaction. A crash therefore leaves at most packs (and no blobs) the catalog lacks, which
the next writer indexes (``recovery.py``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from snapexport.catalog import content
from snapexport.catalog.db import Catalog
from snapexport.errors import CorruptionError, StoreError
from snapexport.fsutil import private_dir
from snapexport.store.backend import Backend
from snapexport.store.blobreader import BlobReader
from snapexport.store.chunker import Chunker
from snapexport.store.compression import Codecs
from snapexport.store.config import StoreConfig
from snapexport.store.crypto import Cipher, MasterKey
from snapexport.store.ids import BytesLike, Ids
from snapexport.store.layout import TMP_DIR, catalog_in_store
from snapexport.store.lease import LeaseLock
from snapexport.store.location import StoreLocation
from snapexport.store.lock import NoLock, StoreLock
from snapexport.store.packs import KIND_DATA, FinishedPack, codec_of, entry_type, object_name
from snapexport.store.packsink import PackSink, Payload
from snapexport.store.prepared import CommitLog, Prepared, Preparer

WINDOW = 8  # chunks hashed together before one batched existence query


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A stored blob: its id (BLAKE3 of the content) and plain size."""

    id: bytes
    size: int


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What this Store object has done since it was opened."""

    bytes_read: int = 0  # plain bytes given to put_*
    bytes_stored: int = 0  # payload bytes appended to packs
    new_chunks: int = 0
    dedup_chunks: int = 0  # chunks already stored (or already queued in this run)
    new_blobs: int = 0
    packs_written: int = 0


@dataclass(slots=True)
class _PendingBlob:
    id: bytes
    size: int
    chunks: list[bytes]
    waiting: set[bytes] = field(default_factory=set)


@dataclass(slots=True)
class _Counters:
    bytes_read: int = 0
    bytes_stored: int = 0
    new_chunks: int = 0
    dedup_chunks: int = 0
    new_blobs: int = 0
    packs_written: int = 0


class BlobStore:
    """Puts and reads blobs: chunker, codecs, packs, backend and the catalog's content rows.

    It neither opens, locks nor recovers anything: ``opened.Store`` (what ``Store.open``
    returns) does, and builds on this class. Given a ``lock``, every write first checks
    that the lock is still held; without one the caller holds the store's lock itself.
    """

    def __init__(
        self,
        location: StoreLocation,
        backend: Backend,
        config: StoreConfig,
        catalog: Catalog,
        *,
        write: bool,
        work_dir: Path,
        master: MasterKey | None = None,
        key_id: str | None = None,
        lock: StoreLock | LeaseLock | NoLock | None = None,
    ) -> None:
        self.location = location
        #: the store folder (None for object storage)
        self.root: Path | None = location.path
        self.config = config
        self.catalog = catalog
        self.lock = lock
        self.write = write
        self.backend = backend
        self.master = master
        self.key_id = key_id
        self.cipher: Cipher | None = master.cipher() if master else None
        self.ids = Ids(master.ids if master else None)
        self.codecs = Codecs(config.compression_level)
        self.chunker = Chunker(config.chunker)
        self._commits = CommitLog()  # what a prepared blob's catalog query may have missed
        self._preparer = Preparer(self.chunker.params, self.ids, catalog, self._commits)
        #: local folder for packs being written and other scratch files
        self.tmp_dir = work_dir / TMP_DIR
        if write:
            private_dir(self.tmp_dir)
        #: what the user should know about how the store was opened (read-only, no lock)
        self.notes: list[str] = []
        self._pool: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None  # loads chunks of a local store
        self._sink: PackSink | None = None
        self._pending_chunks: set[bytes] = set()
        self._pending_blobs: dict[bytes, _PendingBlob] = {}
        self._counters = _Counters()
        self._closed = False

    @property
    def catalog_in_store(self) -> bool:
        """Whether the catalog lives in the store folder (plain local stores) or in the cache."""
        return catalog_in_store(self.location, self.config)

    def ensure_lock(self) -> None:
        """Raise unless the store's lock (when this object holds one) is still held."""
        if self.lock is not None:
            self.lock.ensure_held()

    # -- writing -----------------------------------------------------------------------

    def _require_writer(self) -> None:
        if not self.write:
            raise StoreError("store was opened read-only")
        if self._closed:
            raise StoreError("store is closed")
        self.ensure_lock()

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="store"
            )
        return self._pool

    def put_file(self, f: BinaryIO, *, compressible: bool | None = None) -> BlobRef:
        """Store the rest of stream ``f`` as one blob, chunk by chunk; returns its ref."""
        self._require_writer()
        return self._put_chunks(self.chunker.chunks(f), compressible)

    def put_bytes(
        self, data: bytes, *, compressible: bool | None = None, kind: int = KIND_DATA
    ) -> BlobRef:
        """Store ``data`` as one blob (``kind`` tags its chunks in the pack index)."""
        self._require_writer()
        return self._put_chunks(self.chunker.chunks_of(data), compressible, kind)

    def _put_chunks(
        self, chunks: Iterable[memoryview], compressible: bool | None, kind: int = KIND_DATA
    ) -> BlobRef:
        ids = self.ids
        chunk_ids: list[bytes] = []
        blob_hash = ids.blob_hash()
        size = 0

        def hashed() -> Iterator[tuple[memoryview, bytes]]:
            nonlocal size
            for chunk in chunks:
                size += len(chunk)
                # BLAKE3 runs at several GB/s on one core: hashing here costs less than
                # handing the chunk to a worker and waiting. The pool is kept for compression.
                chunk_id = ids.of(chunk)
                blob_hash.add(chunk, chunk_id)
                yield chunk, chunk_id

        self._store_chunks(hashed(), compressible, chunk_ids, kind)
        blob_id = blob_hash.digest()
        return self._stored_blob(blob_id, size, chunk_ids)

    def prepare(self, data: bytes) -> Prepared:
        """Cut ``data``, compute its chunk ids and blob id, and find which of its chunks the
        catalog holds, without storing anything; safe on other threads while this store
        writes (``prepared.Preparer``)."""
        return self._preparer.prepare(data)

    def put_prepared(self, prepared: Prepared, *, compressible: bool | None = None) -> BlobRef:
        """Store a blob ``prepare`` cut and hashed (its bytes stay referenced until stored)."""
        self._require_writer()
        chunk_ids: list[bytes] = []
        known = self._commits.known_since(prepared)
        self._store_chunks(prepared.chunks, compressible, chunk_ids, KIND_DATA, known)
        return self._stored_blob(prepared.id, prepared.size, chunk_ids)

    def _store_chunks(
        self,
        hashed: Iterable[tuple[memoryview, bytes]],
        compressible: bool | None,
        chunk_ids: list[bytes],
        kind: int,
        known: frozenset[bytes] | None = None,
    ) -> None:
        """Store (chunk, id) pairs in windows of ``WINDOW``, appending their ids in order.
        ``known``: the chunks the catalog holds, when the caller knows (else it is asked)."""
        window: list[tuple[memoryview, bytes]] = []
        for pair in hashed:
            window.append(pair)
            if len(window) >= WINDOW:
                self._store_window(window, compressible, chunk_ids, kind, known)
                window = []
        if window:
            self._store_window(window, compressible, chunk_ids, kind, known)

    def _stored_blob(self, blob_id: bytes, size: int, chunk_ids: list[bytes]) -> BlobRef:
        self._counters.bytes_read += size
        self._add_blob(blob_id, size, chunk_ids)
        return BlobRef(blob_id, size)

    def _store_window(
        self,
        window: list[tuple[memoryview, bytes]],
        compressible: bool | None,
        chunk_ids: list[bytes],
        kind: int = KIND_DATA,
        in_catalog: frozenset[bytes] | None = None,
    ) -> None:
        ids = [cid for _, cid in window]
        chunk_ids.extend(ids)
        unknown = {i for i in ids if i not in self._pending_chunks}
        known: set[bytes] | frozenset[bytes]
        if in_catalog is not None:
            known = in_catalog
        else:
            known = self.catalog.content.existing_chunks(unknown) if unknown else set()
        pool = self._executor()
        for chunk, cid in window:
            if cid in self._pending_chunks or cid in known:
                self._counters.dedup_chunks += 1
                continue
            self._pending_chunks.add(cid)
            payload: Payload
            if compressible is False and self.cipher is None:
                # Stored as is: a worker would only add a thread hand-off per chunk.
                payload = self._encode(chunk, compressible, kind)
            else:
                payload = pool.submit(self._encode, chunk, compressible, kind)
            self._packs().append(cid, len(chunk), payload)
            self._counters.new_chunks += 1
        self._commit_sealed(wait_all=False)

    def _encode(
        self, chunk: BytesLike, compressible: bool | None, kind: int
    ) -> tuple[int, BytesLike]:
        """(type byte, stored bytes) of one chunk: compressed, then sealed when encrypted."""
        codec, stored = self.codecs.encode(chunk, compressible)
        if self.cipher is not None:
            stored = self.cipher.seal(stored)
        return entry_type(codec, kind), stored

    def _packs(self) -> PackSink:
        if self._sink is None:
            size, version = self.config.pack_size, self.pack_format()
            self._sink = PackSink(self.tmp_dir, self.backend, size, self.cipher, version)
        return self._sink

    def pack_format(self) -> int:
        """The pack format of the packs this writer adds (``ready_for_new_packs``)."""
        self._require_writer()
        self.config = self.config.ready_for_new_packs(self.backend)
        return self.config.pack_format

    def _commit_sealed(self, *, wait_all: bool) -> None:
        if self._sink is None:
            return
        for finished in self._sink.take_sealed(wait_all=wait_all):
            self._counters.packs_written += 1
            self._counters.bytes_stored += sum(e.length for e in finished.entries)
            self._commit_blobs(finished)

    def _add_blob(self, blob_id: bytes, size: int, chunk_ids: list[bytes]) -> None:
        if blob_id in self._pending_blobs:
            return
        blob = _PendingBlob(blob_id, size, chunk_ids)
        blob.waiting = {c for c in chunk_ids if c in self._pending_chunks}
        self._pending_blobs[blob_id] = blob
        if len(self._pending_blobs) > 2000 and not blob.waiting:
            self._commit_blobs(None)

    def _commit_blobs(self, finished: FinishedPack | None) -> None:
        """Commit a just-saved pack (if any) and every blob whose chunks are all durable."""
        sealed: set[bytes] = set()
        rows: list[content.ChunkRow] = []
        if finished is not None:
            rows = [
                content.ChunkRow(e.id, finished.id, e.offset, e.length, e.size, e.codec)
                for e in finished.entries
            ]
            sealed = {e.id for e in finished.entries}
        ready = []
        for blob in self._pending_blobs.values():
            blob.waiting -= sealed
            if not blob.waiting:
                ready.append(blob)
        index = self.catalog.content
        with self.catalog.transaction():
            if finished is not None:
                index.insert_pack(finished.id, finished.size, rows)
            if ready:
                rows = [(blob.id, blob.size, blob.chunks) for blob in ready]
                self._counters.new_blobs += index.insert_blobs(rows)
        if sealed:
            # remembered before they leave the pending set: a blob prepared before this
            # commit may not have seen them in the catalog (put_prepared)
            self._commits.record(sealed)
        self._pending_chunks -= sealed
        for blob in ready:
            del self._pending_blobs[blob.id]

    def flush(self) -> None:
        """Finish the open pack and commit everything put so far."""
        self._require_writer()
        if self._sink is not None:
            self._sink.seal()
            self._commit_sealed(wait_all=True)
        if self._pending_blobs:
            self._commit_blobs(None)
        if self._pending_blobs or self._pending_chunks:
            raise StoreError("internal error: blobs left pending after flush")

    def put_stream(
        self,
        f: BinaryIO,
        chunker: Chunker,
        *,
        compressible: bool | None = None,
        kind: int = KIND_DATA,
    ) -> BlobRef:
        """Store stream ``f`` as one blob cut by ``chunker`` instead of the store's own.

        Readers follow a blob's chunk list whatever cut it, so this changes dedup only. The
        pack queue holds at most four average chunks meanwhile: the catalog image uses small
        chunks and this to keep its put within a few MiB (catalog_image.py).
        """
        self._require_writer()
        sink = self._packs()
        saved, sink.max_queued_bytes = sink.max_queued_bytes, 4 * chunker.params.avg_size
        try:
            return self._put_chunks(chunker.chunks(f), compressible, kind)
        finally:
            sink.max_queued_bytes = saved

    # -- reading -----------------------------------------------------------------------

    def has_blob(self, blob_id: bytes) -> bool:
        """Whether a blob with this id is stored (or put in this run and not yet flushed)."""
        if blob_id in self._pending_blobs:
            return True
        return self.catalog.content.blob_size(blob_id) is not None

    def blob_size(self, blob_id: bytes) -> int | None:
        pending = self._pending_blobs.get(blob_id)
        if pending is not None:
            return pending.size
        return self.catalog.content.blob_size(blob_id)

    def locate_blobs(self, blob_ids: Sequence[bytes]) -> dict[bytes, content.BlobChunkRows]:
        """Where each blob's chunks are, for ``read_blob(located=...)``: one catalog query
        for many blobs instead of one per blob (a blob not stored is absent)."""
        if not self._pending_blobs.keys().isdisjoint(blob_ids):
            self.flush()
        return self.catalog.content.blob_chunk_rows(blob_ids)

    def read_blob(
        self,
        blob_id: bytes,
        *,
        ahead: bool = True,
        located: Mapping[bytes, content.BlobChunkRows] | None = None,
    ) -> BlobReader:
        """Yield the plain bytes of a blob chunk by chunk, each verified against its id.

        Loading starts at once: the first ``READ_AHEAD`` chunks are queued on the pool
        before this returns, so a caller may open the next blobs while it still writes the
        current one (``close`` the reader of a blob it then does not want). With
        ``ahead=False`` a local store's chunks are loaded when asked for, on the thread
        that asks (a caller with threads of its own for that: no hand-off per chunk);
        object storage still loads ahead (each load waits on the network). ``located``
        (from ``locate_blobs``) saves the catalog query for a blob it holds.
        """
        chunks = None if located is None else located.get(blob_id)
        if chunks is None:
            chunks = self.locate_blobs([blob_id]).get(blob_id)
        if chunks is None:
            raise CorruptionError(f"blob {blob_id.hex()} is not in the catalog")
        rows: list[content.ChunkRow] = []
        for cid, row in chunks:
            if row is None:
                raise CorruptionError(
                    f"blob {blob_id.hex()} needs chunk {cid.hex()}, which is not in the catalog"
                )
            rows.append(row)
        pool = self._read_executor() if ahead or self.root is None else None
        return BlobReader(pool, self.read_chunk, rows)

    def _read_executor(self) -> ThreadPoolExecutor:
        """Where chunks are loaded and verified.

        Object storage: the shared pool (each load waits on the network; several in flight
        hide the latency). A local folder: one thread of its own, next to the caller that
        writes the bytes out. A load there is a pread and a BLAKE3 pass, both without the
        GIL; a second loader only added GIL hand-offs (folder materialize, 1 GB: 1.83 s of
        CPU with the two-thread pool, 1.61 s with one reader, median of 4).
        """
        if self.root is None:
            return self._executor()
        if self._reader is None:
            self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-read")
        return self._reader

    def read_chunk(self, row: content.ChunkRow) -> bytes:
        """Load, decode and verify one chunk; CorruptionError names the pack and chunk."""
        return self.decode_verified(row, self.load_stored(row))

    def load_stored(self, row: content.ChunkRow) -> bytes:
        """The stored (possibly compressed) bytes of one chunk, as the catalog locates them."""
        try:
            stored = self.backend.load(object_name(row.pack), row.offset, row.length)
        except FileNotFoundError:
            raise CorruptionError(
                f"pack {row.pack} is missing (needed for chunk {row.id.hex()})"
            ) from None
        if len(stored) != row.length:
            raise CorruptionError(f"pack {row.pack} is truncated (chunk {row.id.hex()})")
        return stored

    def decode_verified(self, row: content.ChunkRow, stored: BytesLike) -> bytes:
        """Decode one chunk's stored bytes and check them against the chunk id."""
        try:
            if self.cipher is not None:
                stored = self.cipher.open(stored)
            plain = self.codecs.decode(codec_of(row.codec), stored, row.size)
        except CorruptionError as err:
            raise CorruptionError(f"{_where(row)} is damaged: {err}") from None
        if len(plain) != row.size or self.ids.of(plain) != row.id:
            raise CorruptionError(f"{_where(row)} is damaged: its bytes do not match its id")
        return plain

    # -- stats, closing ------------------------------------------------------------

    @property
    def stats(self) -> StoreStats:
        c = self._counters
        return StoreStats(
            c.bytes_read, c.bytes_stored, c.new_chunks, c.dedup_chunks, c.new_blobs,
            c.packs_written,
        )  # fmt: skip

    def discard(self) -> None:
        """Drop the unfinished pack and every put not yet committed (committed packs and
        blobs stay; the next writer's recovery tidies up as after a crash)."""
        if self._sink is not None:
            self._sink.abort()
            self._sink = None
        self._pending_blobs.clear()
        self._pending_chunks.clear()

    def release(self) -> None:
        """Stop the worker threads and close the catalog (and the lock, when one was given)."""
        self._closed = True
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._reader is not None:
            self._reader.shutdown(wait=True, cancel_futures=True)
            self._reader = None
        self._preparer.close()
        with contextlib.suppress(Exception):
            self.catalog.close()
        if self.lock is not None:
            self.lock.release()


def _where(row: content.ChunkRow) -> str:
    return f"chunk {row.id.hex()} in pack {row.pack}"
