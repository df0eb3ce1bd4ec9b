"""A committed snapshot read back span by span, for replaying it into another store.

``copy`` treats a stored snapshot as a source (``source/stored.py``): its rows come from
here in the snapshot's own order (the explicit order when one was stored, else the sort
key), with the facts the snapshot builder compares (text hash, sort key, extra), and its
record texts are fetched only for the rows the target lacks.
"""

from __future__ import annotations

import array
import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import zstandard

from snapexport.catalog.modelids import model_id
from snapexport.catalog.records import ALIVE, decode_text

_BATCH = 500
_dctx = zstandard.ZstdDecompressor()


class SpanFacts(NamedTuple):
    """One record of a stored snapshot, without its text."""

    pk: str
    hash: bytes
    sort_key: bytes
    extra: str | None


def spans_in_order(conn: sqlite3.Connection, seq: int, model: str) -> Iterator[SpanFacts]:
    """A model's records in snapshot ``seq``, in the order materialize writes them."""
    order = conn.execute(
        "SELECT spans FROM snapshot_orders WHERE seq = ? AND model = ?", (seq, model)
    ).fetchone()
    if order is None:
        alive = ALIVE.replace("born", "s.born").replace("died", "s.died")
        for row in conn.execute(
            "SELECT s.pk, s.hash, s.sort_key, s.extra FROM record_spans s"
            f" WHERE s.model = {model_id(':model')} AND {alive} ORDER BY s.sort_key",
            {"model": model, "seq": seq},
        ):
            yield SpanFacts(*row)
        return
    ids = array.array("q")
    ids.frombytes(_dctx.decompress(order[0]))
    for start in range(0, len(ids), _BATCH):
        part = ids[start : start + _BATCH]
        marks = ",".join("?" * len(part))
        found = {
            r[0]: SpanFacts(*r[1:])
            for r in conn.execute(
                f"SELECT id, pk, hash, sort_key, extra FROM record_spans WHERE id IN ({marks})",
                tuple(part),
            )
        }
        for sid in part:
            yield found[sid]


def texts(
    conn: sqlite3.Connection, seq: int, model: str, pks: Sequence[str]
) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
    """(pk, exporter text, extra) of these rows of snapshot ``seq``, in any order."""
    alive = ALIVE.replace("born", "s.born").replace("died", "s.died")
    for start in range(0, len(pks), _BATCH):
        part = tuple(pks[start : start + _BATCH])
        marks = ",".join("?" * len(part))
        for pk, data, extra in conn.execute(
            "SELECT s.pk, d.data, s.extra FROM record_spans s JOIN record_data d"
            f" ON d.hash = s.hash WHERE s.model = {model_id()} AND s.pk IN ({marks})"
            f" AND {alive.replace(':seq', '?')}",
            (model, *part, seq, seq),
        ):
            yield pk, decode_text(data), json.loads(extra) if extra else None


def texts_by_hash(conn: sqlite3.Connection, hashes: Sequence[bytes]) -> dict[bytes, str]:
    """The exporter texts stored under these record hashes (one query per 500)."""
    out: dict[bytes, str] = {}
    for start in range(0, len(hashes), _BATCH):
        part = tuple(hashes[start : start + _BATCH])
        marks = ",".join("?" * len(part))
        for h, data in conn.execute(
            f"SELECT hash, data FROM record_data WHERE hash IN ({marks})", part
        ):
            out[bytes(h)] = decode_text(data)
    return out


def has_snapshot(conn: sqlite3.Connection, snapshot_id: str) -> bool:
    """Whether a snapshot with exactly this id is committed."""
    row = conn.execute("SELECT 1 FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()
    return row is not None


class Replay:
    """The replay questions of one open catalog (``Replay(store.catalog)``)."""

    __slots__ = ("_conn",)

    def __init__(self, catalog: Any) -> None:
        self._conn: sqlite3.Connection = catalog.conn

    def spans_in_order(self, seq: int, model: str) -> Iterator[SpanFacts]:
        return spans_in_order(self._conn, seq, model)

    def texts(
        self, seq: int, model: str, pks: Sequence[str]
    ) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
        return texts(self._conn, seq, model, pks)

    def texts_by_hash(self, hashes: Sequence[bytes]) -> dict[bytes, str]:
        return texts_by_hash(self._conn, hashes)

    def has_snapshot(self, snapshot_id: str) -> bool:
        return has_snapshot(self._conn, snapshot_id)
