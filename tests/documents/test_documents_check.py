"""check --read-data-subset, check SNAPSHOT, snapshots --max-age, and the library's edges."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import blake3
import pytest

from snapexport.check import check_store
from snapexport.checkscope import PackSubset
from snapexport.documents.profile import document_profile
from snapexport.errors import UsageError
from snapexport.snapshots import Freshness, freshness, parse_max_age
from snapexport.store import Store
from snapexport.store.chunker import ChunkerParams
from snapexport.values import SnapshotMeta

SMALL = ChunkerParams(min_size=256, avg_size=1024, max_size=4096)


@pytest.fixture(scope="module")
def many_packs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of about 200 packs of 32 KiB (incompressible, so packs are alike in size)."""
    path = tmp_path_factory.mktemp("packs") / "s"
    with Store.init(path, pack_size=32 * 1024, chunker=SMALL) as store:
        for i in range(100):
            store.put_bytes(blake3.blake3(i.to_bytes(4, "big")).digest(length=64 * 1024))
    return path


def test_four_slices_read_every_pack_once_and_a_quarter_each(many_packs: Path) -> None:
    with Store.open(many_packs, write=True) as store:
        total = check_store(store)
        assert total.ok and total.packs >= 150
        ids = {p.id for p in __import__("snapexport.catalog.content").catalog.content.packs(
            store.catalog.conn)}  # fmt: skip
        slices = [PackSubset.parse(f"{n}/4").choose(ids) for n in range(1, 5)]
        reports = [check_store(store, subset=PackSubset.parse(f"{n}/4")) for n in range(1, 5)]
    assert set().union(*slices) == ids
    assert sum(len(s) for s in slices) == len(ids)  # disjoint: every pack exactly once
    assert [r.packs_read for r in reports] == [len(s) for s in slices]
    assert sum(r.pack_bytes_read for r in reports) == total.pack_bytes_total
    for r in reports:
        assert r.ok and r.scope == f"subset {r.scope.split()[-1]}"
        assert 0.12 < r.pack_bytes_read / r.pack_bytes_total < 0.38


def test_percent_subset_reads_that_share(many_packs: Path) -> None:
    with Store.open(many_packs, write=True) as store:
        report = check_store(store, subset=PackSubset.parse("10%"))
    assert report.ok
    assert report.packs_read == -(-report.packs * 10 // 100)


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "x", "0%", "101%", "1/4/2", ""])
def test_bad_subsets(text: str) -> None:
    with pytest.raises(UsageError, match="--read-data-subset"):
        PackSubset.parse(text)


def test_check_cli_subset_and_snapshot_scope(night_store: Any) -> None:
    ns = night_store
    one = ns.json("check", "--store", ns.store, "--read-data-subset", "1/4")
    assert one["ok"] and one["scope"] == "subset 1/4"
    runs = [one] + [ns.json("check", "--store", ns.store, "--read-data-subset", f"{n}/4")
                    for n in (2, 3, 4)]  # fmt: skip
    assert sum(r["packs_read"] for r in runs) == one["packs"]
    assert sum(r["pack_bytes_read"] for r in runs) == one["pack_bytes_total"]
    text = ns.ok("check", "--store", ns.store, "--read-data-subset", "2/4")
    assert "subset 2/4" in text and f"of {one['packs']} packs" in text
    scoped = ns.json("check", "--store", ns.store, ns.before[:8], "--read-data")
    assert scoped["ok"] and scoped["scope"] == f"snapshots {ns.before[:8]}"
    assert 0 < scoped["packs_read"] <= scoped["packs"]


def test_max_age_after_a_snapshot(night_store: Any) -> None:
    ns = night_store
    fresh = ns.run("snapshots", "--store", ns.store, "--max-age", "1h")
    assert fresh.returncode == 0 and "within --max-age 1h" in fresh.stdout
    stale = ns.run("snapshots", "--store", ns.store, "--max-age", "0s")
    assert stale.returncode == 1
    (line,) = stale.stderr.strip().splitlines()
    assert ns.after[:8] in line and "older than --max-age 0s" in line
    as_json = ns.run("snapshots", "--store", ns.store, "--max-age", "0s", "--json")
    assert as_json.returncode == 1
    body = json.loads(as_json.stdout)
    assert body["fresh"] is False and body["newest_complete"] == ns.after
    assert [s["id"] for s in body["snapshots"]] == [ns.before, ns.after]


def test_freshness_with_a_controlled_clock(night_store: Any) -> None:
    with Store.open(night_store.store) as store:
        newest = freshness(store, timedelta(hours=26)).newest
        assert newest is not None and newest.id == night_store.after
        later = newest.time + timedelta(hours=26)
        assert freshness(store, timedelta(hours=26), now=later).fresh
        assert not freshness(store, timedelta(hours=26), now=later + timedelta(seconds=1)).fresh
        assert freshness(store, timedelta(hours=1), tag="nosuchtag").problem() is not None
    assert Freshness(timedelta(0), None, None).problem() == (
        "the store has no complete snapshot: check the nightly snapshot job (its log, its"
        " exit code)"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0s", 0), ("26h", 93600), ("1d", 86400), ("90min", 5400), ("1h30min", 5400), ("2w", 1209600)],
)
def test_parse_max_age(text: str, seconds: int) -> None:
    assert parse_max_age(text).total_seconds() == seconds


def test_django_profile_has_no_documents() -> None:
    meta = SnapshotMeta("ab" * 32, 1, datetime.now(UTC), "h", "django", (), True)
    with pytest.raises(UsageError, match="not supported"):
        document_profile(meta)


def test_index_refresh_reads_only_new_spans(night_store: Any, monkeypatch: Any) -> None:
    from snapexport.documents.index import prepare

    monkeypatch.setenv("SNAPEXPORT_CACHE_DIR", str(night_store.cache))
    with Store.open(night_store.store) as store:
        meta = store.catalog.conn.execute("SELECT profile FROM snapshots LIMIT 1").fetchone()
        assert meta[0] == "paperless"
        from snapexport.documents.profile import PAPERLESS

        prepare(store, PAPERLESS)  # whatever earlier commands left unindexed
        assert prepare(store, PAPERLESS) == 0  # nothing new: no record is decoded again
    (index,) = night_store.cache.glob("*/documents.sqlite")
    assert index.stat().st_mode & 0o777 == 0o600
    assert index.parent.stat().st_mode & 0o077 == 0
