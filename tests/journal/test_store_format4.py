"""Format-3 stores written by the format-3 code (tests/store/fixtures/format3) keep working:
read as they are, made format 4 by the first writer that adds a pack (before that pack, so
an older snapexport refuses the store instead of misreading it), crash-safely; their
format-2 packs and the new format-3 packs are then read, checked and rebuilt side by side."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from journal_site import (
    config_version,
    fixture_store,
    materialized,
    night,
    ok,
    rebuilt_equals_live,
    snapshot,
)

from tests.sitetools import cli, generate

FIXTURES = Path(__file__).parents[1] / "store" / "fixtures" / "format3"
EXPECTED: dict[str, dict[str, str]] = json.loads((FIXTURES / "expected.json").read_text())
PASSWORD = "format3-fixture"


def _pack_formats(store: Path) -> list[int]:
    """The format byte of every pack's header, sorted."""
    return sorted(p.read_bytes()[7] for p in (store / "packs").rglob("*") if p.is_file())


def _all_identical(store: Path, which: str, tmp: Path, **env: str) -> None:
    listed = [s["id"] for s in json.loads(ok("snapshots", "--store", store, "--json", **env))]
    assert set(EXPECTED[which]) <= set(listed)
    for sid, want in EXPECTED[which].items():
        assert materialized(store, sid, tmp / f"{which}-{sid[:8]}", **env) == want, sid


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    generate("create", site, "--documents", "3", "--seed", "5")
    return site


def test_plain_format3_store_is_read_as_is_then_made_format4(tmp_path: Path) -> None:
    store = fixture_store(FIXTURES, "plain", tmp_path)
    assert set(_pack_formats(store)) == {2}
    _all_identical(store, "plain", tmp_path / "read")
    assert config_version(store) == 3  # reading does not upgrade
    site = _site(tmp_path)
    snapshot(store, site)  # the first writer that adds packs
    assert config_version(store) == 4
    assert set(_pack_formats(store)) == {2, 3}
    night(site, 2)
    snapshot(store, site)
    assert "no problems found" in ok("check", "--read-data", "--store", store)
    _all_identical(store, "plain", tmp_path / "upgraded")
    rebuilt_equals_live(store, tmp_path / "copy")
    _all_identical(tmp_path / "copy", "plain", tmp_path / "rebuilt")


def test_killed_right_after_the_config_says_format4(tmp_path: Path) -> None:
    store = fixture_store(FIXTURES, "plain", tmp_path)
    site = _site(tmp_path)
    crashed = cli(
        "snapshot", "--store", store, "--settings", "snapexport.demo.settings",
        site=site, SNAPEXPORT_FAULT="store:after-format-4=kill",
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert config_version(store) == 4 and set(_pack_formats(store)) == {2}
    _all_identical(store, "plain", tmp_path / "crashed")
    snapshot(store, site)  # the next writer just goes on in format 4
    assert set(_pack_formats(store)) == {2, 3}
    assert "no problems found" in ok("check", "--read-data", "--store", store)
    _all_identical(store, "plain", tmp_path / "after")


def test_encrypted_format3_store_on_new_machines(tmp_path: Path) -> None:
    store = fixture_store(FIXTURES, "enc", tmp_path)

    def machine(n: int) -> dict[str, str]:
        return {"SNAPEXPORT_PASSWORD": PASSWORD, "XDG_CACHE_HOME": str(tmp_path / f"cache{n}")}

    _all_identical(store, "enc", tmp_path / "m1", **machine(1))  # from the catalog copies
    assert config_version(store) == 3
    snapshot(store, _site(tmp_path), **machine(1))
    assert config_version(store) == 4
    assert set(_pack_formats(store)) == {2, 3}
    assert "no problems found" in ok("check", "--read-data", "--store", store, **machine(1))
    _all_identical(store, "enc", tmp_path / "m2", **machine(2))
    ok("rebuild-catalog", "--store", store, **machine(3))  # from the packs alone
    _all_identical(store, "enc", tmp_path / "m3", **machine(3))
