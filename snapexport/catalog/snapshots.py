"""Snapshot rows of the catalog: listing, resolving what users type, allocating sequence numbers."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime

from snapexport.errors import UsageError
from snapexport.values import SnapshotMeta

_COLUMNS = "seq, id, time, host, profile, tags, complete, info, stats"
_LATEST = re.compile(r"^latest(?:~(\d+))?$")
MIN_PREFIX = 4


def _meta(row: tuple) -> SnapshotMeta:
    seq, sid, time, host, profile, tags, complete, info, stats = row
    return SnapshotMeta(
        id=sid,
        seq=seq,
        time=datetime.fromisoformat(time),
        host=host,
        profile=profile,
        tags=tuple(json.loads(tags)),
        complete=bool(complete),
        info=json.loads(info),
        stats=json.loads(stats),
    )


def list_snapshots(conn: sqlite3.Connection, *, tag: str | None = None) -> list[SnapshotMeta]:
    """Every snapshot, oldest commit first (optionally only those carrying ``tag``)."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM snapshots ORDER BY seq").fetchall()
    metas = [_meta(r) for r in rows]
    if tag is not None:
        metas = [m for m in metas if tag in m.tags]
    return metas


def get_by_seq(conn: sqlite3.Connection, seq: int) -> SnapshotMeta:
    row = conn.execute(f"SELECT {_COLUMNS} FROM snapshots WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        raise UsageError(f"no snapshot with sequence number {seq}")
    return _meta(row)


def resolve(
    conn: sqlite3.Connection, spec: str = "latest", *, tag: str | None = None
) -> SnapshotMeta:
    """Find the snapshot a user means.

    ``spec`` is ``latest``, ``latest~N`` (N snapshots before the latest, by time), or a unique
    prefix of a snapshot id (at least four hex digits). With ``tag``, ``latest`` means the
    newest snapshot carrying that tag.
    """
    spec = spec.strip()
    m = _LATEST.match(spec)
    if m:
        back = int(m.group(1) or 0)
        candidates = sorted(list_snapshots(conn, tag=tag), key=lambda s: (s.time, s.seq))
        if not candidates:
            where = f" with tag {tag!r}" if tag else ""
            raise UsageError(f"the store has no snapshot{where}")
        if back >= len(candidates):
            raise UsageError(f"{spec}: the store has only {len(candidates)} snapshot(s)")
        return candidates[-1 - back]
    if not re.fullmatch(r"[0-9a-fA-F]+", spec):
        raise UsageError(f"{spec!r} is not a snapshot id, an id prefix, latest or latest~N")
    if len(spec) < MIN_PREFIX:
        raise UsageError(f"snapshot id prefix {spec!r} is too short (at least {MIN_PREFIX})")
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM snapshots WHERE id >= ? AND id < ? ORDER BY seq",
        (spec.lower(), spec.lower() + "g"),
    ).fetchall()
    if not rows:
        raise UsageError(f"no snapshot matches {spec!r}")
    if len(rows) > 1:
        ids = ", ".join(r[1][:12] for r in rows[:5])
        raise UsageError(f"snapshot id prefix {spec!r} is ambiguous: {ids}")
    meta = _meta(rows[0])
    if tag is not None and tag not in meta.tags:
        raise UsageError(f"snapshot {meta.short_id} does not carry tag {tag!r}")
    return meta


def next_seq(conn: sqlite3.Connection) -> int:
    """The sequence number the next committed snapshot gets (never reuses a forgotten one)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
    stored = int(row[0]) if row else 1
    highest = conn.execute(
        "SELECT max(m) FROM (SELECT max(seq) AS m FROM snapshots"
        " UNION ALL SELECT max(born) FROM record_spans"
        " UNION ALL SELECT max(died) FROM record_spans"
        " UNION ALL SELECT max(born) FROM file_spans"
        " UNION ALL SELECT max(died) FROM file_spans)"
    ).fetchone()[0]
    return max(stored, (highest or 0) + 1)


def insert_snapshot(conn: sqlite3.Connection, meta: SnapshotMeta) -> None:
    """Insert the snapshot row and advance ``next_seq``; the caller owns the transaction."""
    conn.execute(
        f"INSERT INTO snapshots ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            meta.seq,
            meta.id,
            meta.time.isoformat(),
            meta.host,
            meta.profile,
            json.dumps(list(meta.tags)),
            int(meta.complete),
            json.dumps(meta.info, sort_keys=True),
            json.dumps(meta.stats, sort_keys=True),
        ),
    )
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('next_seq', ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (str(meta.seq + 1),),
    )


def live_seqs(conn: sqlite3.Connection) -> list[int]:
    return [r[0] for r in conn.execute("SELECT seq FROM snapshots ORDER BY seq")]
