"""Catalog schema 4 (model labels as numbers, issue #15): a schema-3 catalog opens, is
upgraded in place and keeps working; a delta written by schema-3 code (labels as text)
still replays, numbering labels as the live catalog did."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from journal_site import (
    materialized,
    night,
    ok,
    rebuilt_equals_live,
    snapshot,
    tables,
    to_schema_3,
)

from snapexport.catalog import journal as cj
from snapexport.catalog.db import Catalog


def _facts(path: Path) -> tuple[int, bool, int, str | None]:
    """(schema version, has a models table, journal log rows, checkpoint_due)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        models = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'models'").fetchone()
        log = conn.execute("SELECT count(*) FROM journal_log").fetchone()[0]
        due = conn.execute("SELECT value FROM meta WHERE key = 'checkpoint_due'").fetchone()
        return version, models is not None, log, due[0] if due else None
    finally:
        conn.close()


def _labels(path: Path) -> list[tuple[str, str]]:
    """(model label, pk) of every record span, by span id."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        sql = "SELECT model, pk FROM record_spans ORDER BY id"
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'models'").fetchone():
            sql = (
                "SELECT m.name, s.pk FROM record_spans s JOIN models m ON m.id = s.model"
                " ORDER BY s.id"
            )
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_schema3_catalog_is_upgraded_and_keeps_working(site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    ok("init", "--store", store, site=site)
    first = snapshot(store, site)
    night(site, 1)
    second = snapshot(store, site)
    want = {s: materialized(store, s, tmp_path / f"before-{s[:8]}") for s in (first, second)}
    live = tables(store / "catalog.sqlite")
    labels = _labels(store / "catalog.sqlite")
    to_schema_3(store / "catalog.sqlite")
    assert _facts(store / "catalog.sqlite") == (3, False, 0, None)
    assert _labels(store / "catalog.sqlite") == labels
    # the next command upgrades it: the same rows, the same numbers, nothing journaled
    for s in (first, second):
        assert materialized(store, s, tmp_path / f"after-{s[:8]}") == want[s]
    assert _facts(store / "catalog.sqlite") == (4, True, 0, None)
    assert tables(store / "catalog.sqlite") == live
    ok("check", "--store", store)
    night(site, 2)
    third = snapshot(store, site)
    rebuilt_equals_live(store, tmp_path / "rebuilt")
    assert materialized(store, third, tmp_path / "third")


def test_pending_changes_at_the_upgrade_make_the_next_entry_a_checkpoint(
    site: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    ok("init", "--store", store, site=site)
    snapshot(store, site)
    to_schema_3(store / "catalog.sqlite")
    # a writer that crashed before publishing left a logged snapshot-level change
    conn = sqlite3.connect(store / "catalog.sqlite", isolation_level=None)
    conn.execute("INSERT INTO journal_log (tbl, k1) VALUES ('snapshots', 1)")
    conn.close()
    catalog = Catalog.open(store / "catalog.sqlite")
    assert catalog.journal.checkpoint_due()
    catalog.close()
    night(site, 1)
    snapshot(store, site)
    catalog = Catalog.open(store / "catalog.sqlite")
    assert catalog.journal.entries()[-1].kind == "checkpoint"
    assert not catalog.journal.checkpoint_due()
    catalog.close()
    rebuilt_equals_live(store, tmp_path / "rebuilt")


_SPANS = [  # (id, label, pk, born, died)
    (1, "zeta.z", "1", 1, 2),
    (2, "zeta.z", "2", 1, None),
    (3, "alpha.a", "1", 2, None),
]
# (id, path, owner, pk, born)
_FILES = [(1, "a.pdf", "beta.b", "1", 1), (2, "n.txt", None, None, 2)]


def _old_delta(tmp_path: Path, name: str, spans: list, files: list, gen: int) -> Path:
    """A delta as schema-3 code wrote it: labels as text, no models table, version 2."""
    writer = Catalog.open(tmp_path / f"{name}.sqlite", create=True)
    with writer.transaction() as conn:
        conn.executemany(
            "INSERT INTO models (name) VALUES (?)",
            [(n,) for n in dict.fromkeys([f[2] for f in files if f[2]] + [s[1] for s in spans])],
        )
        conn.executemany(
            "INSERT INTO record_spans (id, model, pk, hash, sort_key, born, died) VALUES"
            " (?, (SELECT id FROM models WHERE name = ?), ?, x'aa', x'01', ?, ?)",
            spans,
        )
        conn.executemany(
            "INSERT INTO file_spans (id, path, role, owner_model, owner_pk, blob, size,"
            " mtime_ns, mode, born) VALUES (?, ?, 'file', (SELECT id FROM models WHERE"
            " name = ?), ?, x'bb', 1, 1, 420, ?)",
            files,
        )
    delta = tmp_path / f"{name}.delta"
    writer.journal.write_delta(delta, writer.journal.log_max(), {"gen": str(gen), "parent": ""})
    writer.close()
    conn = sqlite3.connect(delta, isolation_level=None)
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, col in (("record_spans", "model"), ("file_spans", "owner_model")):
        if table not in present:
            continue
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_v4")
        conn.execute(f"CREATE TABLE {table} AS SELECT * FROM {table}_v4 WHERE 0")
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table}_v4)")]
        values = [
            f"(SELECT name FROM models m WHERE m.id = t.{c})" if c == col else f"t.{c}"
            for c in cols
        ]
        conn.execute(f"INSERT INTO {table} SELECT {', '.join(values)} FROM {table}_v4 t")
        conn.execute(f"DROP TABLE {table}_v4")
    conn.execute("DROP TABLE models")
    conn.execute("DELETE FROM keys WHERE tbl = 'models'")
    conn.execute("UPDATE delta SET value = '2' WHERE key = 'version'")
    conn.execute("UPDATE delta SET value = '3' WHERE key = 'schema'")
    conn.close()
    return delta


def test_schema3_delta_with_model_labels_replays(tmp_path: Path) -> None:
    first = _old_delta(tmp_path, "first", _SPANS, _FILES, 2)
    # the next writer session: span 2 died, a new label, and a label seen before
    second = _old_delta(
        tmp_path, "second", [(2, "zeta.z", "2", 1, 3), (4, "mid.m", "1", 3, None),
                             (5, "alpha.a", "2", 3, None)], [], 3,
    )  # fmt: skip
    for delta in (first, second):
        assert cj.read_delta(delta).meta["schema"] == "3"
    reader = Catalog.open(tmp_path / "reader.sqlite", create=True)
    reader.journal.apply_delta(first)
    reader.journal.apply_delta(second)
    conn = reader.conn
    # numbered by oldest span, then by label: what the live catalog would have given them
    assert conn.execute("SELECT id, name FROM models ORDER BY id").fetchall() == [
        (1, "beta.b"), (2, "zeta.z"), (3, "alpha.a"), (4, "mid.m"),
    ]  # fmt: skip
    spans = conn.execute("SELECT id, model, pk, born, died FROM record_spans ORDER BY id")
    assert spans.fetchall() == [
        (1, 2, "1", 1, 2), (2, 2, "2", 1, 3), (3, 3, "1", 2, None), (4, 4, "1", 3, None),
        (5, 3, "2", 3, None),
    ]  # fmt: skip
    assert conn.execute("SELECT id, owner_model FROM file_spans ORDER BY id").fetchall() == [
        (1, 1), (2, None),
    ]  # fmt: skip
    assert set(reader.spans.current_spans("alpha.a", ["1", "2"])) == {"1", "2"}
    assert set(reader.changes.current_hashes("zeta.z", ["1", "2"])) == set()
    reader.close()


def test_a_schema4_delta_says_so(tmp_path: Path) -> None:
    writer = Catalog.open(tmp_path / "writer.sqlite", create=True)
    delta = tmp_path / "delta.sqlite"
    with writer.transaction() as conn:
        conn.execute("INSERT INTO models (name) VALUES ('app.thing')")
    writer.journal.write_delta(delta, writer.journal.log_max(), {"gen": "2", "parent": ""})
    writer.close()
    info = cj.read_delta(delta)
    assert (info.meta["version"], info.meta["schema"]) == ("3", "4")
    reader = Catalog.open(tmp_path / "reader.sqlite", create=True)
    reader.journal.apply_delta(delta)
    assert reader.conn.execute("SELECT id, name FROM models").fetchall() == [(1, "app.thing")]
    reader.close()
