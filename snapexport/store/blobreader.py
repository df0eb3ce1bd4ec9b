"""``BlobReader``: one blob's plain bytes, chunk by chunk, loaded ahead on a thread pool."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from snapexport.catalog import content

READ_AHEAD = 4  # chunks loaded and verified ahead of the reader


class BlobReader(Iterator[bytes]):
    """One blob's plain bytes, chunk by chunk, loaded and verified on the store's pool.

    At most ``READ_AHEAD`` chunks are queued or held at a time; the first ones are queued
    when the reader is made. ``close`` drops what was queued and not yet read. Without a
    pool each chunk is loaded when asked for, on the thread that asks.
    """

    __slots__ = ("_ahead", "_load", "_next", "_pool", "_rows")

    def __init__(
        self,
        pool: ThreadPoolExecutor | None,
        load: Callable[[content.ChunkRow], bytes],
        rows: list[content.ChunkRow],
    ) -> None:
        self._pool = pool
        self._load = load
        self._rows = rows
        self._next = 0
        self._ahead: deque[Future[bytes]] = deque()
        self._fill()

    def _fill(self) -> None:
        if self._pool is None:
            return
        rows = self._rows
        while len(self._ahead) < READ_AHEAD and self._next < len(rows):
            self._ahead.append(self._pool.submit(self._load, rows[self._next]))
            self._next += 1

    def __iter__(self) -> BlobReader:
        return self

    def __next__(self) -> bytes:
        if self._pool is None:
            if self._next >= len(self._rows):
                raise StopIteration
            row = self._rows[self._next]
            self._next += 1
            return self._load(row)
        if not self._ahead:
            raise StopIteration
        future = self._ahead.popleft()
        self._fill()  # keep the pool busy while this chunk is waited for and written
        try:
            return future.result()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Cancel the loads not yet started; the reader yields nothing more."""
        for future in self._ahead:
            future.cancel()
        self._ahead.clear()
        self._next = len(self._rows)
