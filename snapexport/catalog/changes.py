"""What differs between two snapshots, as ``diff`` asks the catalog for it.

For snapshots A and B, the spans alive in A but not in B all died in ``(A, B]`` (or, when
A is the newer, were born in ``(B, A]``): indexed range queries whose size is the number of
changes, not the size of the site. The answers are the cursors themselves, streamed row by
row without a Python layer in between.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from snapexport.catalog.modelids import model_id, model_name


def _alive_only_in(table: str, key: str, a: int, b: int) -> str:
    """SQL for the spans alive in snapshot ``a`` but not in ``b`` (both ints, no user input)."""
    a, b = int(a), int(b)
    if a < b:
        return f"SELECT {key} FROM {table} WHERE born <= {a} AND died > {a} AND died <= {b}"
    alive_at_a = f"(died IS NULL OR died > {a})"
    return f"SELECT {key} FROM {table} WHERE born > {b} AND born <= {a} AND {alive_at_a}"


class Changes:
    """Diff's questions to one open catalog (read only)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def records_only_in(self, a: int, b: int) -> Iterator[tuple[str, str, bytes]]:
        """(model, pk, hash) of every record span alive in snapshot ``a`` but not in ``b``."""
        cols = f"{model_name('model')}, pk, hash"
        return self._conn.execute(_alive_only_in("record_spans", cols, a, b))

    def files_only_in(
        self, a: int, b: int
    ) -> Iterator[tuple[str, bytes, str, str | None, str | None]]:
        """(path, blob, role, owner model, owner pk) of every file span alive in ``a`` only."""
        cols = f"path, blob, role, {model_name('owner_model')}, owner_pk"
        return self._conn.execute(_alive_only_in("file_spans", cols, a, b))

    def record_text(self, h: bytes) -> bytes | None:
        """The stored (compressed) text of the record version with hash ``h``."""
        row = self._conn.execute("SELECT data FROM record_data WHERE hash = ?", (h,)).fetchone()
        return None if row is None else row[0]

    def current_hashes(self, model: str, pks: Sequence[str]) -> Iterator[tuple[str, int, bytes]]:
        """(pk, born, hash) of the current spans of these records (one query, <= 500 pks)."""
        marks = ",".join("?" * len(pks))
        return self._conn.execute(
            "SELECT pk, born, hash FROM record_spans"
            f" WHERE model = {model_id()} AND died IS NULL AND pk IN ({marks})",
            (model, *pks),
        )

    def hashes_at(self, model: str, seq: int) -> Iterator[tuple[str, bytes]]:
        """(pk, hash) of every record of ``model`` that died after ``seq`` (a model scan)."""
        return self._conn.execute(
            f"SELECT pk, hash FROM record_spans WHERE model = {model_id()}"
            " AND born <= ? AND died > ?",
            (model, seq, seq),
        )
