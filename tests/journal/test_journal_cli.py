"""The catalog journal through the real CLI: deltas, rebuilds, kill -9, a missing delta."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
from pathlib import Path

import pytest
from journal_site import (
    materialized,
    night,
    ok,
    pack_bytes,
    rebuilt_equals_live,
    snapshot,
)

from snapexport.catalog.chunkrefs import BLOB_CHUNK
from snapexport.store.journal import CRASH_POINTS
from tests.sitetools import SETTINGS, cli


def _entries(store: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(f"file:{store / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        return [(g, k) for g, k in conn.execute("SELECT gen, kind FROM journal_entries")]
    finally:
        conn.close()


def test_unchanged_snapshot_adds_a_small_delta_and_the_store_rebuilds(
    site: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    ok("init", "--store", store)
    first = snapshot(store, site)
    assert _entries(store) == [(1, "checkpoint")]
    before = pack_bytes(store)
    second = snapshot(store, site)  # nothing changed on the site
    added = pack_bytes(store) - before
    assert _entries(store) == [(1, "checkpoint"), (2, "delta")]
    # format 2 added the whole catalog image here (about 40 KB stored at this size)
    assert added < 8 * 1024, added
    night(site, 1)
    third = snapshot(store, site)
    ok("forget", "--store", store, second, "--prune")
    refs = {sid: materialized(store, sid, tmp_path / f"ref-{sid[:8]}") for sid in (first, third)}
    rebuilt_equals_live(store, tmp_path / "copy")
    for sid, want in refs.items():
        assert materialized(tmp_path / "copy", sid, tmp_path / f"re-{sid[:8]}") == want


@pytest.mark.parametrize("point", [p for p in CRASH_POINTS if p != "before-config"])
@pytest.mark.parametrize("kind", ["checkpoint", "delta"])
def test_kill_while_writing_an_entry(site: Path, tmp_path: Path, point: str, kind: str) -> None:
    store = tmp_path / "store"
    ok("init", "--store", store)
    earlier = None
    if kind == "delta":
        earlier = snapshot(store, site)
        ref = materialized(store, earlier, tmp_path / "ref")
        night(site, 2)
    crashed = cli("snapshot", "--store", store, "--settings", SETTINGS, site=site,
                  SNAPEXPORT_FAULT=f"journal:{point}=kill")  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    out = ok("check", "--read-data", "--store", store)
    assert "no problems found" in out
    if earlier is not None:
        assert materialized(store, earlier, tmp_path / "after") == ref
    snapshot(store, site)  # the next run finishes
    ok("check", "--read-data", "--store", store)
    rebuilt_equals_live(store, tmp_path / "copy")
    gens = [g for g, _ in _entries(store)]
    assert gens == list(range(gens[0], gens[0] + len(gens)))  # one chain, no gap


def _body_pack(store: Path, gen: int) -> Path:
    conn = sqlite3.connect(f"file:{store / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        (pack,) = conn.execute(
            "SELECT DISTINCT n.id FROM journal_entries e JOIN blobs b ON b.id = e.blob"
            f" LEFT JOIN blob_chunks bc ON bc.blob = b.id JOIN chunks c ON c.id = {BLOB_CHUNK}"
            " JOIN pack_names n ON n.n = c.pack WHERE e.gen = ?",
            (gen,),
        ).fetchone()
    finally:
        conn.close()
    return store / "packs" / pack[:2] / pack


def test_missing_delta_is_named_and_rebuild_can_stop_before_it(site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    ok("init", "--store", store)
    first = snapshot(store, site)
    ref = materialized(store, first, tmp_path / "ref")
    night(site, 3)
    snapshot(store, site)  # delta 2, the one we lose
    night(site, 4)
    third = snapshot(store, site)  # delta 3
    assert _entries(store)[-2:] == [(2, "delta"), (3, "delta")]
    _body_pack(store, 2).unlink()

    checked = cli("check", "--store", store)
    assert checked.returncode == 1
    assert "catalog delta 2 is damaged" in checked.stderr

    copy = Path(shutil.copytree(store, tmp_path / "copy"))
    (copy / "catalog.sqlite").unlink()
    failed = cli("rebuild-catalog", "--store", copy)
    assert failed.returncode == 1
    assert "catalog delta 2 " in failed.stderr and "--stop-at-last-good" in failed.stderr
    out = ok("rebuild-catalog", "--store", copy, "--stop-at-last-good", "--json")
    result = json.loads(out)
    assert result["stopped_at"] == 2
    assert third in result["lost_snapshots"]
    listed = json.loads(ok("snapshots", "--store", copy, "--json"))
    assert [s["id"] for s in listed] == [first]
    assert materialized(copy, first, tmp_path / "re") == ref
    # the chain continues from the state kept: a new checkpoint above every generation
    assert _entries(copy) == [(4, "checkpoint")]
    snapshot(copy, site)
    ok("check", "--read-data", "--store", copy)
    rebuilt_equals_live(copy, tmp_path / "copy2")


def test_encrypted_store_restores_on_a_new_machine_from_copies(site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    env = {"SNAPEXPORT_PASSWORD": "journal-test", "XDG_CACHE_HOME": str(tmp_path / "cache1")}
    ok("init", "--store", store, "--encrypt", **env)
    snapshot(store, site, **env)
    night(site, 5)
    second = snapshot(store, site, **env)
    snapshot(store, site, **env)  # unchanged: a delta copy of a few KB
    names = sorted(p.name for p in (store / "catalog").iterdir())
    assert names == ["0000000001", "0000000002.delta", "0000000003.delta"]
    ref = materialized(store, second, tmp_path / "ref", **env)
    fresh = {**env, "XDG_CACHE_HOME": str(tmp_path / "cache2")}  # a new machine
    assert materialized(store, second, tmp_path / "new", **fresh) == ref
    ok("check", "--read-data", "--store", store, **fresh)


def test_a_rebuild_killed_before_installing_leaves_the_catalog_as_it_was(
    site: Path, tmp_path: Path
) -> None:
    """The catalog is rebuilt under another name and renamed into place when complete: a
    rebuild killed before that leaves the live catalog byte for byte as it was."""
    store = tmp_path / "store"
    ok("init", "--store", store)
    first = snapshot(store, site)
    night(site, 3)
    snapshot(store, site)
    ref = materialized(store, first, tmp_path / "ref")
    catalog = store / "catalog.sqlite"
    ok("check", "--store", store)  # a clean close: the WAL folded into the file
    before = catalog.read_bytes()
    crashed = cli("rebuild-catalog", "--store", store,
                  SNAPEXPORT_FAULT="rebuild:before-install=kill")  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert catalog.read_bytes() == before
    assert "no problems found" in ok("check", "--read-data", "--store", store)
    ok("rebuild-catalog", "--store", store)  # the rerun finishes and replaces it
    assert not (store / "rebuild-new.sqlite").exists()
    assert materialized(store, first, tmp_path / "after") == ref
    assert "no problems found" in ok("check", "--read-data", "--store", store)
