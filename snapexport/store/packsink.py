"""Appending chunk payloads to packs on one dedicated I/O thread.

Writing, hashing and fsyncing packs overlaps with the caller reading and cutting the next
files. Appends run in submission order on the single I/O thread, handed over in batches of
about a quarter of what may be queued (one task and one wake-up per batch, not per chunk);
each append waits for its payload (a compression future, or the bytes themselves) first. A
pack that reaches the target size is sealed and handed to a second thread that writes its
index, fsyncs and saves it under its name, so the disk flushes one pack while the next is
being filled. The caller collects sealed packs, in order, with ``take_sealed`` and commits
their rows from its own thread (the catalog connection never leaves it).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from snapexport.store.backend import Backend
from snapexport.store.crypto import Cipher
from snapexport.store.ids import BytesLike
from snapexport.store.packs import FORMAT_VERSION, FinishedPack, PackWriter, object_name

# What a chunk is stored as: (type byte, stored bytes), or a future of it (being compressed)
Payload = tuple[int, BytesLike] | Future[tuple[int, BytesLike]]

MAX_QUEUED = 32  # batches in flight before the caller waits (bounds memory held by payloads)
BATCH_CHUNKS = 64  # ... and chunks a batch holds at most (the bytes bound it first, mostly)
# ... and plain bytes in flight: a queued chunk keeps its read block alive, so this bounds the
# put's memory by bytes whatever the chunk sizes (about four average chunks; enough to keep
# both cores compressing while the I/O thread writes).
MAX_QUEUED_BYTES = 16 << 20
MAX_SEALING = 2  # packs being fsynced (or uploaded) beyond the backend's concurrency
# A pack is also sealed at this many chunks, so that blobs waiting for their pack (held in
# memory until it is durable) stay bounded when a site is made of many tiny files.
MAX_PACK_CHUNKS = 4096


class PackSink:
    """Orders payloads into packs of about ``pack_size`` bytes and saves them when full."""

    def __init__(
        self,
        tmp_dir: Path,
        backend: Backend,
        pack_size: int,
        cipher: Cipher | None = None,
        version: int = FORMAT_VERSION,
    ) -> None:
        self._cipher = cipher
        self._version = version  # the pack format written
        self._tmp_dir = tmp_dir
        self._backend = backend
        self._pack_size = pack_size
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="packs")
        # Uploads to object storage run several at once; each pack waits on local disk
        # (not in memory), so memory stays bounded by the multipart buffers.
        self._uploads = max(1, backend.concurrency)
        self._sealer = ThreadPoolExecutor(max_workers=self._uploads, thread_name_prefix="seal")
        self._pack: PackWriter | None = None  # touched only on the I/O thread
        self._futures: deque[tuple[Future[list[Future[FinishedPack]]], int]] = deque()
        self._queued_bytes = 0  # plain bytes of the appends in _futures (caller's thread)
        self._batch: list[tuple[bytes, int, Payload]] = []  # appends not yet handed over
        self._batch_bytes = 0
        self.max_queued_bytes = MAX_QUEUED_BYTES
        self._sealing: deque[Future[FinishedPack]] = deque()  # touched only by the caller
        self._in_sealer: deque[Future[FinishedPack]] = deque()  # touched only on the I/O thread

    def append(self, chunk_id: bytes, size: int, payload: Payload) -> None:
        """Queue one chunk; ``payload`` is ``(codec, stored bytes)`` or a future of it."""
        self._batch.append((chunk_id, size, payload))
        self._batch_bytes += size
        if self._batch_bytes >= self.max_queued_bytes // 4 or len(self._batch) >= BATCH_CHUNKS:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._batch:
            batch, size = self._batch, self._batch_bytes
            self._batch, self._batch_bytes = [], 0
            self._futures.append((self._io.submit(self._append_all, batch), size))
            self._queued_bytes += size

    def seal(self) -> None:
        """Queue sealing the open pack (if it holds anything)."""
        self._hand_over()
        self._futures.append((self._io.submit(self._seal), 0))

    def take_sealed(self, *, wait_all: bool = False) -> list[FinishedPack]:
        """Packs sealed and saved so far, in order; waits while too much is queued."""
        if wait_all:
            self._hand_over()
        while self._futures and (
            wait_all
            or len(self._futures) > MAX_QUEUED
            or self._queued_bytes > self.max_queued_bytes
            or self._futures[0][0].done()
        ):
            fut, size = self._futures.popleft()
            self._queued_bytes -= size
            self._sealing.extend(fut.result())
        sealed: list[FinishedPack] = []
        while self._sealing and (wait_all or self._sealing[0].done()):
            sealed.append(self._sealing.popleft().result())
        return sealed

    def _append_all(self, batch: list[tuple[bytes, int, Payload]]) -> list[Future[FinishedPack]]:
        sealing: list[Future[FinishedPack]] = []
        for chunk_id, size, payload in batch:
            codec, stored = payload.result() if isinstance(payload, Future) else payload
            if self._pack is None:
                self._pack = PackWriter(self._tmp_dir, self._cipher, self._version)
            self._pack.add(chunk_id, codec, size, stored)
            if self._pack.size >= self._pack_size or self._pack.count >= MAX_PACK_CHUNKS:
                sealing.extend(self._seal())
        return sealing

    def _seal(self) -> list[Future[FinishedPack]]:
        """Seal the open pack: the pack being saved, or none when it held nothing."""
        pack, self._pack = self._pack, None
        if pack is None or pack.count == 0:
            if pack is not None:
                pack.abort()
            return []
        while len(self._in_sealer) >= MAX_SEALING + self._uploads - 1:
            self._in_sealer.popleft().result()
        while self._in_sealer and self._in_sealer[0].done():
            self._in_sealer.popleft()
        fut = self._sealer.submit(self._finish, pack)
        self._in_sealer.append(fut)
        return [fut]

    def _finish(self, pack: PackWriter) -> FinishedPack:
        finished = pack.finish()
        self._backend.save(object_name(finished.id), finished.path)
        return finished

    def abort(self) -> None:
        """Drop queued appends and the unfinished pack (sealed packs stay: they are durable)."""
        for fut, _ in self._futures:
            fut.cancel()
        self._futures.clear()
        self._batch.clear()
        self._queued_bytes = self._batch_bytes = 0
        self._io.shutdown(wait=True, cancel_futures=True)
        self._sealer.shutdown(wait=True, cancel_futures=True)
        self._sealing.clear()
        if self._pack is not None:
            self._pack.abort()
            self._pack = None

    def close(self) -> None:
        self._io.shutdown(wait=True)
        self._sealer.shutdown(wait=True)
