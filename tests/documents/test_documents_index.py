"""The document index follows the catalog: new nights, forgotten snapshots, reused span ids."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.sitetools import SETTINGS, cli, generate


def _run(cache: Path, *args: str | Path, site: Path | None = None) -> str:
    done = cli(*args, site=site, SNAPEXPORT_CACHE_DIR=str(cache))
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return str(done.stdout)


def _site_documents(site: Path) -> dict[int, str]:
    conn = sqlite3.connect(site / "db.sqlite3")
    try:
        return dict(conn.execute("SELECT id, title FROM documents_document").fetchall())
    finally:
        conn.close()


def _listed(cache: Path, store: Path) -> dict[int, str]:
    listing = json.loads(_run(cache, "ls", "--store", store, "--json"))
    return {d["id"]: d["title"] for d in listing["documents"]}


def test_index_follows_nights_and_prune(tmp_path: Path) -> None:
    site, store, cache = tmp_path / "site", tmp_path / "store", tmp_path / "cache"
    generate("create", site, "--documents", "15", "--seed", "5")
    _run(cache, "init", "--store", store)
    snap = ("snapshot", "--store", store, "--settings", SETTINGS)
    _run(cache, *snap, site=site)
    assert _listed(cache, store) == _site_documents(site)  # builds the index
    generate("night", site, "--seed", "8")
    _run(cache, *snap, site=site)
    assert _listed(cache, store) == _site_documents(site)  # indexes only the night
    # Forget the newest snapshot and prune: its spans go, and their ids are handed out
    # again by the next snapshot. The index must notice, not skip them.
    _run(cache, "forget", "--store", store, "latest", "--prune")
    generate("night", site, "--seed", "9")
    _run(cache, *snap, site=site)
    now = _site_documents(site)
    assert _listed(cache, store) == now
    newest = max(now)
    found = json.loads(_run(cache, "find", "--store", store, now[newest], "--json"))
    assert newest in {d["id"] for d in found["documents"]}
    # A renamed correspondent renames its documents' files without a new document version:
    # ls names them as materialize does.
    conn = sqlite3.connect(site / "db.sqlite3")
    with conn:
        conn.execute("UPDATE documents_correspondent SET name = 'Renamed Corp'"
                     " WHERE id = (SELECT correspondent_id FROM documents_document"
                     " WHERE correspondent_id IS NOT NULL ORDER BY id LIMIT 1)")  # fmt: skip
    conn.close()
    _run(cache, *snap, site=site)
    export = tmp_path / "export"
    export.mkdir()
    _run(cache, "materialize", "--store", store, export)
    manifest = json.loads((export / "manifest.json").read_text())
    exported = {r["pk"]: r["__exported_file_name__"] for r in manifest
                if r["model"] == "documents.document"}  # fmt: skip
    listing = json.loads(_run(cache, "ls", "--store", store, "--json"))
    assert {d["id"]: d["original"] for d in listing["documents"]} == exported
    assert any("Renamed Corp" in name for name in exported.values())


def _add_document(conn: sqlite3.Connection, pk: int, title: str, born: int) -> int:
    import blake3
    import zstandard

    text = json.dumps({"model": "documents.document", "pk": pk, "fields": {"title": title}})
    h = blake3.blake3(text.encode()).digest()
    conn.execute("INSERT OR IGNORE INTO record_data (hash, data) VALUES (?, ?)",
                 (h, zstandard.ZstdCompressor().compress(text.encode())))  # fmt: skip
    conn.execute("INSERT OR IGNORE INTO models (name) VALUES ('documents.document')")
    cur = conn.execute(
        "INSERT INTO record_spans (model, pk, hash, sort_key, born)"
        " VALUES ((SELECT id FROM models WHERE name = ?), ?, ?, ?, ?)",
        ("documents.document", json.dumps(pk), h, pk.to_bytes(8, "big"), born),
    )
    return int(cur.lastrowid or 0)


def test_reused_span_ids_are_indexed_again(tmp_path: Path) -> None:
    """SQLite hands out max(id) + 1: after the highest spans are deleted, their ids return."""
    from snapexport.catalog import docindex
    from snapexport.catalog.db import Catalog
    from snapexport.documents.index import refresh
    from snapexport.documents.profile import PAPERLESS

    catalog = Catalog.memory()
    conn = catalog.conn
    index = docindex.open_index(tmp_path / "index.sqlite")
    docs = catalog.documents
    for pk in (1, 2, 3):
        _add_document(conn, pk, f"first {pk}", 1)
    assert refresh(docs, index, PAPERLESS) == 3
    assert refresh(docs, index, PAPERLESS) == 0
    top = int(conn.execute("SELECT max(id) FROM record_spans").fetchone()[0])
    conn.execute("DELETE FROM record_spans WHERE id = ?", (top,))  # as prune does
    reused = _add_document(conn, 4, "second 4", 2)
    assert reused == top  # the id came back, with another record
    refresh(docs, index, PAPERLESS)
    docs.attach(tmp_path / "index.sqlite")
    titles = {v.title for pk in ("1", "2", "4") for v in docs.versions_of(PAPERLESS.document, pk)}
    assert titles == {"first 1", "first 2", "second 4"}


def test_an_index_of_an_older_version_is_rebuilt(tmp_path: Path) -> None:
    """Version 4 indexes had no tags column: one left in the cache is dropped and rebuilt,
    and ls shows the same tags as before."""
    site, store, cache = tmp_path / "site", tmp_path / "store", tmp_path / "cache"
    generate("create", site, "--documents", "15", "--seed", "5")
    _run(cache, "init", "--store", store)
    _run(cache, "snapshot", "--store", store, "--settings", SETTINGS, site=site)
    before = json.loads(_run(cache, "ls", "--store", store, "--json"))["documents"]
    assert any(d["tags"] for d in before)
    (path,) = cache.glob("*/documents.sqlite")
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE versions DROP COLUMN tags")  # as version 4 wrote it
    conn.execute("UPDATE meta SET value = '4' WHERE key = 'version'")
    conn.commit()
    conn.close()
    after = json.loads(_run(cache, "ls", "--store", store, "--json"))["documents"]
    assert after == before
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone() == ("5",)
        assert conn.execute("SELECT count(*) FROM versions WHERE tags != ''").fetchone()[0] > 0
    finally:
        conn.close()
