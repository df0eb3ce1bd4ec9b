"""What a catalog's query objects need of it: the connection and its one transaction idiom."""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Protocol


class Transactional(Protocol):
    """An open catalog (``db.Catalog``), as the query objects of this package see it."""

    conn: sqlite3.Connection

    def transaction(
        self, *, dry_run: bool = False
    ) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...
