"""The catalog journal's SQL: capture what changed as a delta file, apply deltas, keep the chain.

Schema 2 (schema.py) logs the key of every row the journaled tables gain, change or lose
into ``journal_log``, in the same transaction as the change, whatever code wrote it. A
*delta* is an SQLite file holding, for each key logged since the previous journal entry,
the row as it is now (absent when it is gone); applying deltas in order therefore
reproduces those tables row for row. ``journal_entries`` lists the store's entries since
the newest checkpoint (their blobs are live for garbage collection). docs/format.md,
"Store format 3", describes the files byte by byte.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from snapexport.catalog import meta
from snapexport.catalog.meta import MetaKey
from snapexport.catalog.modelids import LABEL_COLUMNS, model_id, number_new, span_labels
from snapexport.catalog.schema import JOURNALED, SCHEMA_VERSION

DELTA_FORMAT = "snapexport-catalog-delta"
# 2: catalog schema 3 leaves the blob_chunks row of one-chunk blobs implied; a snapexport
# that reads version 1 only must not apply such a delta (it would lose those chunk lists)
# 3: catalog schema 4 holds model labels as numbers (a ``models`` table); a snapexport
# that reads version 2 at most would store those numbers as labels
DELTA_VERSION = 3
HEAD_META = MetaKey.JOURNAL_HEAD
PENDING_META = MetaKey.JOURNAL_PENDING
CHECKPOINT_DUE_META = MetaKey.CHECKPOINT_DUE
# local state a checkpoint image must not carry
LOCAL_META = (MetaKey.OPEN_WRITER, HEAD_META, PENDING_META, CHECKPOINT_DUE_META)


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal entry the catalog knows (a row of ``journal_entries``)."""

    gen: int
    kind: str  # 'checkpoint' | 'delta'
    blob: bytes  # body id
    header: bytes  # header chunk id
    size: int  # plain body bytes


def _key_match(table: str, alias: str) -> str:
    cols = JOURNALED[table]
    if len(cols) == 1:
        return f"{alias}.{cols[0]} = k.k1"
    return f"{alias}.{cols[0]} = k.k1 AND {alias}.{cols[1]} = k.k2"


def _columns(conn: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({table})")]


def has_journal(conn: sqlite3.Connection) -> bool:
    """Whether the catalog has schema 2's journal tables (a read-only older file may not)."""
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'journal_entries'").fetchone()
    return row is not None


def state_of_file(path: Path) -> tuple[int, bytes | None] | None:
    """(generation, body id) of the newest journal entry the catalog file at ``path``
    reflects; a format-2 file gives its image generation and no body id; None when there
    is no usable file."""
    from snapexport.catalog.images import current

    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if has_journal(conn):
                h = head(conn)
                if h:
                    return int(str(h["gen"])), bytes.fromhex(str(h["blob"]))
            return int(str(current(conn).get("gen", 0))), None
        finally:
            conn.close()
    except (sqlite3.Error, ValueError):
        return None


def log_max(conn: sqlite3.Connection) -> int:
    """The last log position (0 when the log is empty)."""
    return int(conn.execute("SELECT coalesce(max(n), 0) FROM journal_log").fetchone()[0])


def write_delta(
    conn: sqlite3.Connection, target: Path, upto: int, info: dict[str, str]
) -> dict[str, int]:
    """Write the delta of log rows ``n <= upto`` as a new SQLite file ``target``.

    ``info`` fills the ``delta`` table (gen, parent, store, time). Returns rows per table.
    """
    target.unlink(missing_ok=True)
    conn.execute("ATTACH DATABASE ? AS delta", (str(target),))
    counts: dict[str, int] = {}
    try:
        conn.execute("BEGIN")
        conn.execute("CREATE TABLE delta.delta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        meta = {"format": DELTA_FORMAT, "version": str(DELTA_VERSION),
                "schema": str(SCHEMA_VERSION), **info}  # fmt: skip
        conn.executemany("INSERT INTO delta.delta VALUES (?, ?)", sorted(meta.items()))
        conn.execute("CREATE TABLE delta.keys (tbl TEXT NOT NULL, k1 NOT NULL, k2)")
        conn.execute(
            "INSERT INTO delta.keys SELECT DISTINCT tbl, k1, k2 FROM journal_log WHERE n <= ?"
            " ORDER BY tbl, k1, k2",
            (upto,),
        )
        for table in JOURNALED:
            has = conn.execute(
                "SELECT 1 FROM delta.keys WHERE tbl = ? LIMIT 1", (table,)
            ).fetchone()
            if has is None:
                continue
            cols = ", ".join(f"t.{c}" for c in _columns(conn, table))
            conn.execute(f"CREATE TABLE delta.{table} AS SELECT * FROM main.{table} WHERE 0")
            n = conn.execute(
                f"INSERT INTO delta.{table} SELECT {cols} FROM main.{table} t"
                f" JOIN (SELECT k1, k2 FROM delta.keys WHERE tbl = ?) k"
                f" ON {_key_match(table, 't')}",
                (table,),
            ).rowcount
            counts[table] = n
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute("DETACH DATABASE delta")
    return counts


@dataclass(frozen=True, slots=True)
class DeltaInfo:
    """The ``delta`` table of a delta file, and the snapshot ids it records."""

    meta: dict[str, str]
    snapshots: tuple[str, ...]

    @property
    def gen(self) -> int:
        return int(self.meta["gen"])

    @property
    def parent(self) -> str:
        return self.meta.get("parent", "")


def read_delta(path: Path) -> DeltaInfo:
    """Read a delta file's own description; ValueError when it is not a delta we read."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM delta")}
        if meta.get("format") != DELTA_FORMAT or int(meta.get("version", "0")) > DELTA_VERSION:
            raise ValueError("not a catalog delta this snapexport understands")
        has = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'snapshots'"
        ).fetchone()
        snaps = tuple(r[0] for r in conn.execute("SELECT id FROM snapshots")) if has else ()
        return DeltaInfo(meta, snaps)
    except sqlite3.Error as err:
        raise ValueError(f"not a catalog delta: {err}") from None
    finally:
        conn.close()


# Rows an older delta may carry that schema 3 leaves implied: the blob_chunks row of a
# one-chunk blob whose chunk id is its own id (catalog/content.py, ``BLOB_CHUNK``). The
# blobs rows are inserted first (JOURNALED's order), so the test sees the delta's own.
_IMPLIED_ROWS = {
    "blob_chunks": "d.seq = 0 AND d.chunk = d.blob"
    " AND EXISTS (SELECT 1 FROM main.blobs b WHERE b.id = d.blob AND b.chunks = 1)",
}


def _number_labels(conn: sqlite3.Connection, present: set[str]) -> None:
    """Number the labels an older delta's spans use (catalog schema 3 or before held labels
    where schema 4 holds numbers) that the catalog has not numbered yet, as the live
    catalog did: by their oldest span, then by label (catalog/modelids.py)."""
    tables = tuple(t for t in LABEL_COLUMNS if t in present)
    if tables:
        conn.execute(number_new(span_labels("delta", tables)))


def _delta_schema(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM delta.delta WHERE key = 'schema'").fetchone()
    return int(row[0]) if row else 0


def apply_delta(conn: sqlite3.Connection, path: Path) -> None:
    """Apply one delta file: delete every key it names, then insert the rows it holds.

    One transaction; the caller checks the chain first (``read_delta``). A delta written
    by catalog schema 3 or before names models by label: they are numbered on the way in.
    """
    conn.execute("ATTACH DATABASE ? AS delta", (f"file:{path}?mode=ro",))
    try:
        present = {
            r[0] for r in conn.execute("SELECT name FROM delta.sqlite_master WHERE type='table'")
        }
        labels = _delta_schema(conn) < 4
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table, cols in JOURNALED.items():
                key = f"({', '.join(cols)})" if len(cols) > 1 else cols[0]
                sel = "k1, k2" if len(cols) > 1 else "k1"
                conn.execute(
                    f"DELETE FROM main.{table} WHERE {key} IN"
                    f" (SELECT {sel} FROM delta.keys WHERE tbl = ?)",
                    (table,),
                )
            if labels:
                _number_labels(conn, present)
            for table in JOURNALED:
                if table in present:
                    cols = _columns(conn, table, "delta")
                    label = LABEL_COLUMNS.get(table) if labels else None
                    values = [model_id(f"d.{c}") if c == label else f"d.{c}" for c in cols]
                    implied = _IMPLIED_ROWS.get(table)
                    skip = f" WHERE NOT ({implied})" if implied else ""
                    conn.execute(
                        f"INSERT INTO main.{table} ({', '.join(cols)})"
                        f" SELECT {', '.join(values)} FROM delta.{table} d{skip}"
                    )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("DETACH DATABASE delta")


def clean_image(path: Path) -> None:
    """Remove the local-only journal state from a checkpoint image (a VACUUM copy)."""
    img = sqlite3.connect(path, isolation_level=None)
    try:
        img.execute("BEGIN")
        img.execute("DELETE FROM journal_log")
        img.execute("DELETE FROM journal_entries")
        img.executemany("DELETE FROM meta WHERE key = ?", [(str(k),) for k in LOCAL_META])
        img.execute("COMMIT")
    finally:
        img.close()


# -- the chain the catalog knows -------------------------------------------------------


def entries(conn: sqlite3.Connection) -> list[Entry]:
    """The entries since (and including) the newest checkpoint, oldest first."""
    return [
        Entry(int(g), str(k), bytes(b), bytes(h), int(s))
        for g, k, b, h, s in conn.execute(
            "SELECT gen, kind, blob, header, size FROM journal_entries ORDER BY gen"
        )
    ]


def head(conn: sqlite3.Connection) -> dict[str, object]:
    value = meta.read(conn, HEAD_META)
    return json.loads(value) if value else {}


def commit_entry(conn: sqlite3.Connection, entry: Entry, upto: int) -> None:
    """Record a stored entry (the caller holds the transaction): clear the log it covers
    and the log rows of its own blobs, list it (a checkpoint replaces earlier entries),
    move the head and clear the pending key."""
    own = [(entry.blob,), (entry.header,)]
    conn.execute("DELETE FROM journal_log WHERE n <= ?", (upto,))
    conn.executemany(
        "DELETE FROM journal_log WHERE tbl IN ('blobs', 'blob_chunks') AND k1 = ?", own
    )
    if entry.kind == "checkpoint":
        conn.execute("DELETE FROM journal_entries")
        meta.write(conn, CHECKPOINT_DUE_META, None)
    conn.execute(
        "INSERT OR REPLACE INTO journal_entries (gen, kind, blob, header, size)"
        " VALUES (?, ?, ?, ?, ?)",
        (entry.gen, entry.kind, entry.blob, entry.header, entry.size),
    )
    conn.executemany("INSERT OR IGNORE INTO journal_blobs (id) VALUES (?)", own)
    meta.write(conn, HEAD_META, json.dumps({
        "gen": entry.gen, "blob": entry.blob.hex(), "header": entry.header.hex(),
        "kind": entry.kind,
    }))  # fmt: skip
    meta.write(conn, PENDING_META, None)


def reset_log(conn: sqlite3.Connection) -> None:
    """Forget the log (after a rebuild: the catalog is exactly the chain's state)."""
    conn.execute("DELETE FROM journal_log")


def live_blobs(conn: sqlite3.Connection) -> list[bytes]:
    """Bodies and headers of the newest checkpoint and every delta after it."""
    out: list[bytes] = []
    for e in entries(conn):
        out += [e.blob, e.header]
    return out


def journal_blobs(conn: sqlite3.Connection) -> list[bytes]:
    return [bytes(r[0]) for r in conn.execute("SELECT id FROM journal_blobs")]


def after_collect(conn: sqlite3.Connection) -> None:
    """Forget journal blob ids whose blob rows a garbage collection removed."""
    conn.execute("DELETE FROM journal_blobs WHERE id NOT IN (SELECT id FROM blobs)")


def add_journal_blobs(conn: sqlite3.Connection, ids: Iterable[bytes]) -> None:
    conn.executemany("INSERT OR IGNORE INTO journal_blobs (id) VALUES (?)", [(b,) for b in ids])


class Journal:
    """The journal of one open catalog; writers call ``commit_entry`` and ``reset_log``
    inside ``Catalog.transaction()``."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def log_max(self) -> int:
        return log_max(self._conn)

    def logged_beyond_content(self) -> bool:
        """Whether the log holds more than blob rows (a snapshot-level change)."""
        row = self._conn.execute(
            "SELECT 1 FROM journal_log WHERE tbl NOT IN ('blobs', 'blob_chunks') LIMIT 1"
        ).fetchone()
        return row is not None

    def write_delta(self, target: Path, upto: int, info: dict[str, str]) -> dict[str, int]:
        return write_delta(self._conn, target, upto, info)

    def apply_delta(self, path: Path) -> None:
        apply_delta(self._conn, path)

    def entries(self) -> list[Entry]:
        return entries(self._conn)

    def head(self) -> dict[str, object]:
        return head(self._conn)

    def pending(self) -> dict[str, object] | None:
        value = meta.read(self._conn, PENDING_META)
        return json.loads(value) if value else None

    def checkpoint_due(self) -> bool:
        """Whether the next entry must be a checkpoint (set by a schema upgrade, schema.py)."""
        return meta.read(self._conn, CHECKPOINT_DUE_META) is not None

    def set_pending(self, value: dict[str, object] | None) -> None:
        meta.write(self._conn, PENDING_META, json.dumps(value) if value is not None else None)

    def commit_entry(self, entry: Entry, upto: int) -> None:
        commit_entry(self._conn, entry, upto)

    def reset_log(self) -> None:
        reset_log(self._conn)

    def live_blobs(self) -> list[bytes]:
        return live_blobs(self._conn)

    def blob_ids(self) -> list[bytes]:
        return journal_blobs(self._conn)

    def forget_collected(self) -> None:
        after_collect(self._conn)
