"""A set of strings kept on disk, for walks whose memory must not grow with the site.

Both the materialize namer (every name handed out, up to four per document) and the django
profile's file listing (every path listed) must answer "seen before?" for each item of a
walk over the whole site. A table in SQLite's temporary on-disk database (the ``""``
filename) answers it exactly, with memory bounded by SQLite's page cache; the file goes
away when the connection closes. Costs a few microseconds per call.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable


class DiskSet:
    """Strings added so far; ``add`` says whether an item is new."""

    __slots__ = ("_count", "_db")

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute("CREATE TABLE items (item TEXT PRIMARY KEY) WITHOUT ROWID")
        self._count = 0

    def add(self, item: str) -> bool:
        """Remember ``item``; True when it was not there before."""
        new = self._db.execute("INSERT OR IGNORE INTO items VALUES (?)", (item,)).rowcount == 1
        self._count += new
        return new

    def update(self, items: Iterable[str]) -> None:
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, str):
            return False
        row = self._db.execute("SELECT 1 FROM items WHERE item = ?", (item,)).fetchone()
        return row is not None

    def __len__(self) -> int:
        return self._count

    def close(self) -> None:
        self._db.close()
