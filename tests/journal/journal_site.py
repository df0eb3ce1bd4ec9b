"""Helpers of the journal tests: the real CLI on a demo site, digests, catalog tables."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

from tests.sitetools import SETTINGS, generate, ok

# The tables a catalog journal must reproduce row for row (docs/format.md, "Store format 3").
JOURNALED_TABLES = ("snapshots", "record_data", "models", "record_spans", "file_spans",
                    "snapshot_missing", "snapshot_orders")  # fmt: skip


def snapshot(store: Path, site: Path, **env: str) -> str:
    out = ok("snapshot", "--store", store, "--settings", SETTINGS, "--json", site=site, **env)
    return str(json.loads(out.strip().splitlines()[-1])["snapshot"])


def night(site: Path, seed: int) -> None:
    generate("night", site, "--seed", str(seed), "--new-every", "2", "--edit-every", "2")


def digest(folder: Path) -> str:
    """SHA-256 over (path, NUL, SHA-256 of bytes) of every file, in path order."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def materialized(store: Path, sid: str, dest: Path, **env: str) -> str:
    dest.mkdir(parents=True)
    ok("materialize", "--store", store, sid, dest, **env)
    return digest(dest)


def fixture_store(fixtures: Path, name: str, tmp_path: Path) -> Path:
    """A copy of the fixture store ``fixtures/name``, with the modes snapexport gives."""
    store = Path(shutil.copytree(fixtures / name, tmp_path / name))
    for p in [store, *store.rglob("*")]:
        p.chmod(0o700 if p.is_dir() else 0o600)
    return store


def config_version(store: Path) -> int:
    """The store format version a store's ``config`` says."""
    return int(json.loads((store / "config").read_text())["version"])


def pack_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "packs").rglob("*") if p.is_file())


def tables(path: Path, extra: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """The journaled tables of a catalog, and its content blobs (journal blobs left out)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall())
               for t in JOURNALED_TABLES + extra}  # fmt: skip
        own = {r[0] for r in conn.execute("SELECT id FROM journal_blobs")}
        out["blobs"] = sorted(r for r in conn.execute("SELECT * FROM blobs") if r[0] not in own)
        out["blob_chunks"] = sorted(
            r for r in conn.execute("SELECT * FROM blob_chunks") if r[0] not in own
        )
        out["meta"] = sorted(conn.execute(
            "SELECT key, value FROM meta WHERE key IN ('next_seq', 'uncollected')"
        ).fetchall())  # fmt: skip
        return out
    finally:
        conn.close()


def rebuilt_equals_live(store: Path, scratch: Path) -> None:
    """Rebuild a copy of a plain store from its packs alone; its catalog equals the live one."""
    copy = Path(shutil.copytree(store, scratch))
    for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"):
        (copy / name).unlink(missing_ok=True)
    ok("rebuild-catalog", "--store", copy)
    live, rebuilt = tables(store / "catalog.sqlite"), tables(copy / "catalog.sqlite")
    for table in live:
        assert live[table] == rebuilt[table], table


# What schema 4 changed, undone: the catalog as schema-3 code left it (model labels as text).
_TO_SCHEMA_3 = """
CREATE TABLE record_spans_v3 (
    id INTEGER PRIMARY KEY, model TEXT NOT NULL, pk TEXT NOT NULL,
    hash BLOB NOT NULL REFERENCES record_data(hash), fingerprint BLOB, sort_key BLOB NOT NULL,
    extra TEXT, born INTEGER NOT NULL, died INTEGER
);
INSERT INTO record_spans_v3 SELECT s.id, m.name, s.pk, s.hash, s.fingerprint, s.sort_key,
    s.extra, s.born, s.died FROM record_spans s JOIN models m ON m.id = s.model;
DROP TABLE record_spans;
ALTER TABLE record_spans_v3 RENAME TO record_spans;
CREATE UNIQUE INDEX record_spans_current ON record_spans(model, pk) WHERE died IS NULL;
CREATE INDEX record_spans_order ON record_spans(model, sort_key);
CREATE INDEX record_spans_born ON record_spans(born);
CREATE INDEX record_spans_died ON record_spans(died) WHERE died IS NOT NULL;
CREATE TABLE file_spans_v3 (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, role TEXT NOT NULL, owner_model TEXT,
    owner_pk TEXT, blob BLOB NOT NULL REFERENCES blobs(id), size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, mode INTEGER NOT NULL, inode INTEGER, checksum TEXT,
    born INTEGER NOT NULL, died INTEGER
);
INSERT INTO file_spans_v3 SELECT f.id, f.path, f.role, m.name, f.owner_pk, f.blob, f.size,
    f.mtime_ns, f.mode, f.inode, f.checksum, f.born, f.died
    FROM file_spans f LEFT JOIN models m ON m.id = f.owner_model;
DROP TABLE file_spans;
ALTER TABLE file_spans_v3 RENAME TO file_spans;
CREATE UNIQUE INDEX file_spans_current ON file_spans(path) WHERE died IS NULL;
CREATE INDEX file_spans_born ON file_spans(born);
CREATE INDEX file_spans_died ON file_spans(died) WHERE died IS NOT NULL;
CREATE INDEX file_spans_checksum ON file_spans(substr(checksum, 1, 16));
CREATE INDEX file_spans_owner ON file_spans(owner_pk) WHERE owner_pk IS NOT NULL;
DROP TABLE models;
DELETE FROM journal_log;
UPDATE meta SET value = '3' WHERE key = 'schema_version';
PRAGMA user_version = 3;
"""


def to_schema_3(path: Path) -> None:
    """Turn the catalog at ``path`` into what schema-3 code would have left."""
    from snapexport.catalog.schema import _journal_triggers

    triggers = _journal_triggers("record_spans") + _journal_triggers("file_spans")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(_TO_SCHEMA_3 + "\n".join(triggers))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
