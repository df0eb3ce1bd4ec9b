"""A demo store after one night, shared by the document command tests (built once per run).

The site is generated and changed in subprocesses (``python -m snapexport.demo.generate``)
and every snapshot is taken by the real CLI; the facts the tests check against (checksums,
titles, which documents the night deleted or edited) are read from the site's own database
before and after the night.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.sitetools import SETTINGS, cli, generate

DOC_COLUMNS = (
    "d.id, d.title, d.correspondent_id, d.document_type_id, d.checksum, d.archive_checksum,"
    " d.created, d.archive_serial_number, c.name AS correspondent_name,"
    " (SELECT json_group_array(t.name) FROM documents_document_tags dt"
    "  JOIN documents_tag t ON t.id = dt.tag_id WHERE dt.document_id = d.id) AS tag_names"
)


@dataclass(frozen=True)
class NightStore:
    store: Path
    site: Path
    cache: Path
    before: str  # snapshot ids
    after: str
    docs_before: dict[int, dict[str, Any]]
    docs_after: dict[int, dict[str, Any]]

    def run(self, *args: str | Path) -> Any:
        return cli(*args, SNAPEXPORT_CACHE_DIR=str(self.cache))

    def ok(self, *args: str | Path) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return str(done.stdout)

    def json(self, *args: str | Path) -> Any:
        return json.loads(self.ok(*args, "--json"))

    @property
    def deleted(self) -> list[int]:
        return sorted(set(self.docs_before) - set(self.docs_after))

    @property
    def edited(self) -> dict[int, set[str]]:
        """Document id -> fields the night changed (title, correspondent, document_type)."""
        out: dict[int, set[str]] = {}
        for pk, row in self.docs_after.items():
            old = self.docs_before.get(pk)
            if old is None:
                continue
            changed = {k.removesuffix("_id") for k in ("title", "correspondent_id",
                       "document_type_id") if old[k] != row[k]}  # fmt: skip
            if changed:
                out[pk] = changed
        return out


def _documents(site: Path) -> dict[int, dict[str, Any]]:
    conn = sqlite3.connect(site / "db.sqlite3")
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute(
            f"SELECT {DOC_COLUMNS} FROM documents_document d"
            " LEFT JOIN documents_correspondent c ON c.id = d.correspondent_id"
        ).fetchall()
        return {r["id"]: dict(r) for r in rows}
    finally:
        conn.close()


def _snapshot(store: Path, site: Path, cache: Path) -> str:
    done = cli("snapshot", "--store", store, "--settings", SETTINGS, "--json", site=site,
               SNAPEXPORT_CACHE_DIR=str(cache))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout.strip().splitlines()[-1])["snapshot"])


@pytest.fixture(scope="session")
def night_store(tmp_path_factory: pytest.TempPathFactory) -> NightStore:
    root = tmp_path_factory.mktemp("documents")
    site, store, cache = root / "site", root / "store", root / "cache"
    generate("create", site, "--documents", "80", "--seed", "11")
    done = cli("init", "--store", store)
    assert done.returncode == 0, done.stderr
    before = _snapshot(store, site, cache)
    docs_before = _documents(site)
    # Several nights' worth of edits in one: every kind of change shows up.
    generate("night", site, "--seed", "3", "--edit-every", "5", "--delete-every", "20")
    after = _snapshot(store, site, cache)
    return NightStore(store, site, cache, before, after, docs_before, _documents(site))
