"""A set of strings kept on disk, for walks whose memory must not grow with the site.

Both the materialize namer (every name handed out, up to four per document) and the django
profile's file listing (every path listed) must answer "seen before?" for each item of a
walk over the whole site. A table in SQLite's temporary on-disk database (the ``""``
filename) answers it exactly, with memory bounded by SQLite's page cache; the file goes
away when the connection closes.

Most items of such a walk are new, and each SQLite call releases the GIL: on a busy
thread (the materialize planner, the snapshot's walk) every release hands the GIL to
another thread and waits to get it back. So a Bloom filter of fixed size (``BLOOM_BYTES``)
answers "surely not seen" in Python, and new items are inserted ``PENDING`` at a time;
SQLite is asked only when the filter says "maybe" (about 1 item in 100 once it holds
400,000, far fewer before). One thread at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

BLOOM_BYTES = 512 << 10  # 4 Mi bits, whatever the number of items
_MASK = BLOOM_BYTES * 8 - 1
_PROBES = 4
PENDING = 1024  # new items held in memory before one INSERT of them all


def _probes(item: str) -> list[int]:
    """The filter's bits for ``item``: double hashing, probe i is a + i * b."""
    h = hash(item)
    a, b = h & _MASK, (h >> 32) | 1
    return [(a + i * b) & _MASK for i in range(_PROBES)]


class DiskSet:
    """Strings added so far; ``add`` says whether an item is new."""

    __slots__ = ("_bits", "_count", "_db", "_pending")

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("CREATE TABLE items (item TEXT PRIMARY KEY) WITHOUT ROWID")
        self._bits = bytearray(BLOOM_BYTES)
        self._pending: set[str] = set()
        self._count = 0

    def add(self, item: str) -> bool:
        """Remember ``item``; True when it was not there before."""
        bits = self._bits
        maybe = True
        for p in _probes(item):
            byte, bit = bits[p >> 3], 1 << (p & 7)
            if not byte & bit:
                maybe = False
                bits[p >> 3] = byte | bit
        if maybe and self._holds(item):
            return False
        pending = self._pending
        pending.add(item)
        if len(pending) >= PENDING:
            self._flush()
        self._count += 1
        return True

    def update(self, items: Iterable[str]) -> None:
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str):
            return False
        bits = self._bits
        for p in _probes(item):
            if not bits[p >> 3] & (1 << (p & 7)):
                return False
        return self._holds(item)

    def _holds(self, item: str) -> bool:
        """The exact answer, for an item the filter may hold."""
        if item in self._pending:
            return True
        row = self._db.execute("SELECT 1 FROM items WHERE item = ?", (item,)).fetchone()
        return row is not None

    def _flush(self) -> None:
        db = self._db
        db.execute("BEGIN")
        db.executemany("INSERT INTO items VALUES (?)", ((i,) for i in self._pending))
        db.execute("COMMIT")
        self._pending.clear()

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._pending.clear()
        self._db.close()
