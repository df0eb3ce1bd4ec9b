"""A pack goes missing (deleted, lost on the remote): the next snapshot stores again what
the site still has and its result materializes like the site; check names the pack and the
snapshots it breaks; repair marks what stays lost. The real CLI throughout."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from snapexport.catalog.chunkrefs import BLOB_CHUNK
from tests.sitetools import SETTINGS, cli, copy_case, site_store_reference, tree
from tests.sitetools import ok as _ok


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site, a store with one snapshot of it, and that snapshot materialized."""
    return site_store_reference(tmp_path_factory.mktemp("lost-packs"), 12)


@pytest.fixture
def case(template: Path, tmp_path: Path) -> Path:
    return copy_case(template, tmp_path)


def _biggest_pack(store: Path) -> Path:
    """The pack holding the most chunks of the site's files."""
    conn = sqlite3.connect(f"file:{store / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        (pid,) = conn.execute(
            "SELECT n.id FROM file_spans f JOIN blobs b ON b.id = f.blob"
            f" LEFT JOIN blob_chunks bc ON bc.blob = b.id JOIN chunks c ON c.id = {BLOB_CHUNK}"
            " JOIN pack_names n ON n.n = c.pack GROUP BY c.pack ORDER BY count(*) DESC"
            " LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    return store / "packs" / pid[:2] / pid


def _snapshot(case: Path) -> tuple[int, dict]:
    done = cli("snapshot", "--store", case / "store", "--settings", SETTINGS, "--json",
               site=case / "site")  # fmt: skip
    assert done.returncode in (0, 3), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_deleted_pack_is_stored_again_by_the_next_snapshot(case: Path) -> None:
    store = case / "store"
    first = json.loads(_ok("snapshots", "--store", store, "--json"))[0]["id"]
    lost = _biggest_pack(store)
    lost.unlink()
    # check names the pack, the snapshot it breaks and what repairs it.
    done = cli("check", "--store", store)
    assert done.returncode == 1
    assert f"pack {lost.name} is missing" in done.stderr
    assert f"breaks snapshot(s) {first[:8]}" in done.stderr
    assert "the next snapshot stores again" in done.stderr
    code, summary = _snapshot(case)
    assert code == 0 and summary["complete"]
    assert summary["restored"]["missing_packs"] == [lost.name]
    assert summary["restored"]["files"] > 0
    assert summary["restored"]["reason"] == "their content was in missing packs"
    # The new snapshot materializes exactly like the site (the first one, made before).
    _ok("materialize", "--store", store, "latest", case / "after")
    assert tree(case / "after") == tree(case / "reference")
    assert "no problems found" in _ok("check", "--store", store, "--read-data")
    # The same content got the same blob ids: the first snapshot is whole again too.
    _ok("materialize", "--store", store, first, case / "first")
    assert tree(case / "first") == tree(case / "reference")
    # Nothing more to store the night after.
    code, again = _snapshot(case)
    assert code == 0 and again["restored"]["files"] == 0 and again["files_read"] == 0


def test_repair_marks_what_stays_lost_and_unmarks_it_once_healed(case: Path) -> None:
    store = case / "store"
    first = json.loads(_ok("snapshots", "--store", store, "--json"))[0]["id"]
    lost = _biggest_pack(store)
    lost.unlink()
    report = json.loads(_ok("repair", "--store", store, "--json"))
    assert report["missing_packs"] == [lost.name]
    (damaged,) = report["damaged_snapshots"]
    assert damaged["id"] == first and damaged["files_lost"] > 0
    listed = json.loads(_ok("snapshots", "--store", store, "--json"))
    assert listed[0]["complete"] is False
    # Known damage: check is clean and says so; materialize writes the rest (exit 3).
    done = cli("check", "--store", store, "--read-data")
    assert done.returncode == 0, done.stderr
    assert f"snapshot {first[:8]} lacks" in done.stdout and "marked incomplete" in done.stdout
    done = cli("materialize", "--store", store, first, case / "partial")
    assert done.returncode == 3, done.stderr
    assert "lost with a missing pack" in done.stderr
    written = tree(case / "partial")
    reference = tree(case / "reference")
    assert written and all(
        reference.get(k) == v for k, v in written.items() if k != "manifest.json"
    )
    # The site still has the files: a snapshot stores them again, repair unmarks.
    code, summary = _snapshot(case)
    assert (
        code == 0
        and summary["restored"]["files"] > 0
        and summary["restored"]["missing_packs"] == []
    )
    report = json.loads(_ok("repair", "--store", store, "--json"))
    assert report["healed_snapshots"] == 1 and report["damaged_snapshots"] == []
    assert all(s["complete"] for s in json.loads(_ok("snapshots", "--store", store, "--json")))
    _ok("materialize", "--store", store, first, case / "healed")
    assert tree(case / "healed") == reference
    assert "no problems found" in _ok("check", "--store", store, "--read-data")
