"""Lock waits that end: the walk's transaction on each database, and the one-line error
when a table stays locked past ``--db-timeout``.

- PostgreSQL: ``REPEATABLE READ, READ ONLY``; ``lock_timeout`` and ``statement_timeout``.
- MariaDB/MySQL: ``REPEATABLE READ`` with a consistent snapshot, read only;
  ``innodb_lock_wait_timeout`` (row locks) and ``lock_wait_timeout`` (metadata locks, what
  ``ALTER TABLE`` and ``LOCK TABLES`` hold; its default is a year), whole seconds.
- SQLite: the busy timeout.

Past the timeout the database cancels the statement; ``guard_database`` turns that into a
``SourceError`` naming the table (on PostgreSQL also the process holding the lock and its
query). The transaction is then rolled back and the snapshot builder commits nothing.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from typing import Any, Protocol

from snapexport.errors import RequestError, SourceError

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$")

# Driver error codes that mean "gave up waiting" (or the statement ran out of time).
_PG_STATES = {"55P03": "lock", "57014": "statement"}  # lock_not_available, query_canceled
_MYSQL_CODES = {1205: "lock", 1969: "statement", 3024: "statement"}


def parse_timeout(text: str) -> float:
    """Seconds from ``90``, ``30s``, ``500ms``, ``10min``, ``2h``."""
    match = _DURATION.match(text.lower())
    if not match or match.group(2) not in ("", *_UNITS):
        raise RequestError(f"invalid duration {text!r}: use e.g. 30s, 10min, 1h")
    seconds = float(match.group(1)) * _UNITS.get(match.group(2) or "s", 1.0)
    if seconds <= 0:
        raise RequestError(f"invalid duration {text!r}: it must be longer than 0")
    return seconds


def describe(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds < 120 or seconds % 60:
        return f"{seconds:g}s"
    return f"{seconds / 60:g}min"


def begin_walk(connection: Any, timeout: float) -> None:
    """Inside a fresh ``atomic()``: one read-only view of the database, bounded lock waits."""
    millis = max(1, math.ceil(timeout * 1000))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One snapshot of the database for the whole walk, not one per statement.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute(f"SET LOCAL lock_timeout = {millis}")
            cursor.execute(f"SET LOCAL statement_timeout = {millis}")
        elif connection.vendor == "mysql":
            seconds = max(1, math.ceil(timeout))
            cursor.execute(
                f"SET SESSION innodb_lock_wait_timeout = {seconds},"
                f" SESSION lock_wait_timeout = {seconds}"
            )
            # Django's atomic() only turned autocommit off: this starts the transaction.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        elif connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA busy_timeout = {millis}")


class _HasTimeout(Protocol):
    using: str
    db_timeout: float


@contextlib.contextmanager
def guard_database(source: _HasTimeout, table: str) -> Iterator[None]:
    """A lock wait that ran out while reading ``table`` becomes one ``SourceError`` line."""
    from django.db import DatabaseError, connections

    try:
        yield
    except DatabaseError as err:
        connection = connections[source.using]
        kind = _timed_out(connection.vendor, err)
        if kind is None:
            raise
        waited = describe(source.db_timeout)
        holder = _pg_holder(connection, table) if connection.vendor == "postgresql" else ""
        if kind == "statement" and not holder:
            what = f"reading table {table} took longer than --db-timeout {waited}"
        elif connection.vendor == "sqlite":
            what = (
                f"the SQLite database stayed locked longer than --db-timeout {waited}"
                f" (while reading table {table})"
            )
        else:
            what = f"table {table} stayed locked longer than --db-timeout {waited}"
        raise SourceError(
            f"{what}{holder}; nothing was committed (retry when the lock is released,"
            " or give a longer --db-timeout)"
        ) from err


def _timed_out(vendor: str, err: BaseException) -> str | None:
    cause = err.__cause__ or err
    if vendor == "postgresql":
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        return _PG_STATES.get(str(state))
    if vendor == "mysql":
        args = getattr(cause, "args", ())
        return _MYSQL_CODES.get(args[0]) if args and isinstance(args[0], int) else None
    if vendor == "sqlite":
        text = str(cause)
        return "lock" if "database is locked" in text or "table is locked" in text else None
    return None


def _pg_holder(connection: Any, table: str) -> str:
    """', held by pid N (query)' for the session holding the lock, or '' when unknown.

    The walk's own transaction is aborted, so a second short connection asks.
    """
    try:
        own = connection.connection.info.backend_pid
        probe = connection.get_new_connection(connection.get_connection_params())
    except Exception:
        return ""
    try:
        probe.autocommit = True
        with probe.cursor() as cursor:
            cursor.execute(
                "SELECT l.pid, c.relname, a.query FROM pg_locks l"
                " JOIN pg_class c ON c.oid = l.relation"
                " JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.granted AND l.pid <> %s AND l.pid <> pg_backend_pid()"
                " AND l.mode IN ('AccessExclusiveLock', 'ExclusiveLock')"
                " ORDER BY (c.relname = %s) DESC, l.pid LIMIT 1",
                (own, table),
            )
            row = cursor.fetchone()
    except Exception:
        return ""
    finally:
        probe.close()
    if row is None:
        return ""
    pid, relname, query = row
    query = " ".join(str(query or "").split())
    if len(query) > 200:
        query = query[:197] + "..."
    where = "" if relname == table else f" (its lock on {relname})"
    return f", held by pid {pid}{where}: {query!r}"
