"""Record and file spans: what a snapshot holds, and the current state a new snapshot compares with.

A snapshot ``seq`` holds the spans with ``born <= seq`` and ``died IS NULL OR died > seq``
(see schema.py). The "current" spans (``died IS NULL``) are the state of the newest
snapshot ever committed, which is what the next snapshot is compared with.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import zstandard

from snapexport.catalog import checksums, recordtext
from snapexport.catalog.checksums import as_text
from snapexport.catalog.modelids import model_id, model_name
from snapexport.values import MissingFile, StoredFile, StoredRecord

ALIVE = "born <= :seq AND (died IS NULL OR died > :seq)"
_BATCH = 500


# NamedTuples, not frozen dataclasses: one per row and file of every snapshot, and a frozen
# dataclass's __init__ (object.__setattr__ per field) cost half as much as the query.
class CurrentSpan(NamedTuple):
    """A current record span, as the snapshot builder compares it."""

    id: int
    hash: bytes
    fingerprint: bytes | None
    sort_key: bytes
    extra: str | None


class CurrentFile(NamedTuple):
    """A current file span, as the snapshot builder compares it."""

    id: int
    blob: bytes
    size: int
    mtime_ns: int
    mode: int
    inode: int | None
    checksum: str | None
    stored: bool  # its blob is in the catalog (False: the content was in a pack now lost)


_current_span = CurrentSpan._make
_current_file = CurrentFile._make


def _chunks(items: Sequence[Any], n: int = _BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def current_spans(
    conn: sqlite3.Connection, model: str, pks: Sequence[str]
) -> dict[str, CurrentSpan]:
    """The current spans of these rows, in one query per 500 rows."""
    out: dict[str, CurrentSpan] = {}
    for part in _chunks(pks):
        marks = ",".join("?" * len(part))
        for row in conn.execute(
            "SELECT pk, id, hash, fingerprint, sort_key, extra FROM record_spans"
            f" WHERE model = {model_id()} AND died IS NULL AND pk IN ({marks})",
            (model, *part),
        ):
            out[row[0]] = _current_span(row[1:])
    return out


def current_files(conn: sqlite3.Connection, paths: Sequence[str]) -> dict[str, CurrentFile]:
    """The current file spans at these paths, in one query per 500 paths."""
    out: dict[str, CurrentFile] = {}
    for part in _chunks(paths):
        marks = ",".join("?" * len(part))
        # Without the hint SQLite prefers file_spans_died for an IN list of more than a few
        # paths and scans every current file per batch: quadratic in the site's files.
        for row in conn.execute(
            f"SELECT path, id, blob, size, mtime_ns, mode, inode, {as_text('checksum')},"
            " EXISTS (SELECT 1 FROM blobs b WHERE b.id = file_spans.blob)"
            " FROM file_spans INDEXED BY file_spans_current"
            f" WHERE died IS NULL AND path IN ({marks})",
            tuple(part),
        ):
            out[row[0]] = _current_file(row[1:])
    return out


def has_file_spans(conn: sqlite3.Connection) -> bool:
    """Whether the catalog has recorded any file (a first snapshot's has not)."""
    return conn.execute("SELECT 1 FROM file_spans LIMIT 1").fetchone() is not None


def blob_by_checksum(
    conn: sqlite3.Connection, checksum: str, size: int, mtime_ns: int
) -> bytes | None:
    """A stored blob whose recorded checksum, size and mtime match (a moved document)."""
    # The index file_spans_checksum keys on this expression (schema 3), over the raw bytes
    # of a hex checksum (schema 4) or the text of an older row. The whole checksum is
    # compared here, not in SQL: a "checksum = ?" term would let SQLite's constant
    # propagation rewrite the indexed expression, and it would scan the table instead.
    rows = conn.execute(
        f"SELECT f.blob, {as_text('f.checksum')} FROM file_spans f JOIN blobs b ON b.id = f.blob"
        " WHERE substr(f.checksum, 1, 16) IN (?, ?) AND f.size = ? AND f.mtime_ns = ?",
        (*checksums.keys(checksum), size, mtime_ns),
    )
    return next((blob for blob, whole in rows if whole == checksum), None)


_dctx = zstandard.ZstdDecompressor()
decode_text = recordtext.decode_text  # a stored record text (recordtext.py), as str


def records_of(conn: sqlite3.Connection, seq: int, model: str) -> Iterator[StoredRecord]:
    """A model's records in snapshot ``seq``, in the exporter's order."""
    order = conn.execute(
        "SELECT spans FROM snapshot_orders WHERE seq = ? AND model = ?", (seq, model)
    ).fetchone()
    if order is not None:
        yield from _records_in_explicit_order(conn, model, order[0])
        return
    cur = conn.execute(
        "SELECT s.pk, d.data, s.extra FROM record_spans s JOIN record_data d ON d.hash = s.hash"
        f" WHERE s.model = {model_id(':model')}"
        f" AND {ALIVE.replace('born', 's.born').replace('died', 's.died')}"
        " ORDER BY s.sort_key",
        {"model": model, "seq": seq},
    )
    for pk, data, extra in cur:
        yield StoredRecord(model, pk, decode_text(data), json.loads(extra) if extra else None)


def _records_in_explicit_order(
    conn: sqlite3.Connection, model: str, packed: bytes
) -> Iterator[StoredRecord]:
    import array

    ids = array.array("q")
    ids.frombytes(_dctx.decompress(packed))
    for part in _chunks(ids):
        marks = ",".join("?" * len(part))
        found = {
            sid: (pk, data, extra)
            for sid, pk, data, extra in conn.execute(
                "SELECT s.id, s.pk, d.data, s.extra FROM record_spans s"
                f" JOIN record_data d ON d.hash = s.hash WHERE s.id IN ({marks})",
                tuple(part),
            )
        }
        for sid in part:
            pk, data, extra = found[sid]
            yield StoredRecord(model, pk, decode_text(data), json.loads(extra) if extra else None)


def store_explicit_orders(conn: sqlite3.Connection, seq: int) -> None:
    """Record the database's own order for sections staged as misordered (attached ``stage``)."""
    import array

    cctx = zstandard.ZstdCompressor(level=3)
    models = [m for (m,) in conn.execute("SELECT model FROM stage.misordered")]
    for model in models:
        ids = array.array("q")
        for (sid,) in conn.execute(
            "SELECT r.id FROM stage.seen s JOIN record_spans r"
            f" ON r.model = {model_id()} AND r.pk = s.pk AND r.died IS NULL"
            " WHERE s.model = ? ORDER BY s.position",
            (model, model),
        ):
            ids.append(sid)
        conn.execute(
            "INSERT INTO snapshot_orders (seq, model, spans) VALUES (?, ?, ?)",
            (seq, model, cctx.compress(ids.tobytes())),
        )


_FILE_COLUMNS = (
    f"path, role, {model_name('owner_model')}, owner_pk, blob, size, mtime_ns, mode,"
    f" {as_text('checksum')}"
)
# A file whose blob the catalog no longer has (its content went with a missing pack) is not
# handed out as stored: it is listed as missing, so materialize writes everything else.
_STORED = "EXISTS (SELECT 1 FROM blobs b WHERE b.id = file_spans.blob)"
LOST_REASON = "its stored content was lost with a missing pack"


def files_of(
    conn: sqlite3.Connection, seq: int, owner_model: str, owner_pks: Sequence[str]
) -> dict[str, dict[str, StoredFile]]:
    """The files each of ``owner_pks`` owns in snapshot ``seq``, by role (owners without
    files are absent); a query per ``_BATCH`` owners, not one per owner."""
    out: dict[str, dict[str, StoredFile]] = {}
    for part in _chunks(owner_pks):
        marks = ",".join(f":p{i}" for i in range(len(part)))
        params: dict[str, object] = {f"p{i}": pk for i, pk in enumerate(part)}
        for r in conn.execute(
            f"SELECT {_FILE_COLUMNS} FROM file_spans WHERE owner_model = {model_id(':m')}"
            f" AND owner_pk IN ({marks}) AND {ALIVE} AND {_STORED}",
            {**params, "m": owner_model, "seq": seq},
        ):
            out.setdefault(r[3], {})[r[1]] = StoredFile(*r)
    return out


def files(conn: sqlite3.Connection, seq: int) -> Iterator[StoredFile]:
    for row in conn.execute(
        f"SELECT {_FILE_COLUMNS} FROM file_spans WHERE {ALIVE} AND {_STORED} ORDER BY path",
        {"seq": seq},
    ):
        yield StoredFile(*row)


def missing(conn: sqlite3.Connection, seq: int) -> Iterator[MissingFile]:
    for row in conn.execute(
        "SELECT path, role, owner_model, owner_pk, reason FROM snapshot_missing"
        " WHERE seq = :seq"
        f" UNION ALL SELECT path, role, {model_name('owner_model')}, owner_pk, :lost"
        " FROM file_spans"
        f" WHERE {ALIVE} AND NOT {_STORED}"
        " ORDER BY path",
        {"seq": seq, "lost": LOST_REASON},
    ):
        yield MissingFile(*row)


def counts(conn: sqlite3.Connection, seq: int) -> dict[str, int]:
    """Records, files and logical bytes of snapshot ``seq``."""
    records = conn.execute(
        f"SELECT count(*) FROM record_spans WHERE {ALIVE}", {"seq": seq}
    ).fetchone()[0]
    nfiles, size = conn.execute(
        f"SELECT count(*), coalesce(sum(size), 0) FROM file_spans WHERE {ALIVE}", {"seq": seq}
    ).fetchone()
    return {"records": records, "files": nfiles, "logical_bytes": size}


def count_model(conn: sqlite3.Connection, seq: int, model: str) -> int:
    return conn.execute(
        f"SELECT count(*) FROM record_spans WHERE model = {model_id(':m')} AND {ALIVE}",
        {"m": model, "seq": seq},
    ).fetchone()[0]


class Spans:
    """Record and file spans of one open catalog: what a snapshot holds, what is current."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def current_spans(self, model: str, pks: Sequence[str]) -> dict[str, CurrentSpan]:
        return current_spans(self._conn, model, pks)

    def current_files(self, paths: Sequence[str]) -> dict[str, CurrentFile]:
        return current_files(self._conn, paths)

    def blob_by_checksum(self, checksum: str, size: int, mtime_ns: int) -> bytes | None:
        return blob_by_checksum(self._conn, checksum, size, mtime_ns)

    def has_file_spans(self) -> bool:
        return has_file_spans(self._conn)

    def records_of(self, seq: int, model: str) -> Iterator[StoredRecord]:
        return records_of(self._conn, seq, model)

    def files_of(
        self, seq: int, owner_model: str, owner_pks: Sequence[str]
    ) -> dict[str, dict[str, StoredFile]]:
        return files_of(self._conn, seq, owner_model, owner_pks)

    def files(self, seq: int) -> Iterator[StoredFile]:
        return files(self._conn, seq)

    def missing(self, seq: int) -> Iterator[MissingFile]:
        return missing(self._conn, seq)

    def counts(self, seq: int) -> dict[str, int]:
        return counts(self._conn, seq)

    def count_model(self, seq: int, model: str) -> int:
        return count_model(self._conn, seq, model)
