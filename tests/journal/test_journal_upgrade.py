"""Format-2 stores written by the format-2 code (tests/store/fixtures/format2) keep working:
read as they are, upgraded to format 3 by their next writer, crash-safely."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from journal_site import config_version, fixture_store, materialized, ok, rebuilt_equals_live

from tests.sitetools import cli

FIXTURES = Path(__file__).parents[1] / "store" / "fixtures" / "format2"
EXPECTED: dict[str, dict[str, str]] = json.loads((FIXTURES / "expected.json").read_text())
PASSWORD = "format2-fixture"


def _all_identical(store: Path, which: str, tmp: Path, **env: str) -> None:
    listed = [s["id"] for s in json.loads(ok("snapshots", "--store", store, "--json", **env))]
    assert sorted(listed) == sorted(EXPECTED[which])
    for sid, want in EXPECTED[which].items():
        assert materialized(store, sid, tmp / f"{which}-{sid[:8]}", **env) == want, sid


def test_plain_format2_store_is_read_as_is_then_upgraded(tmp_path: Path) -> None:
    store = fixture_store(FIXTURES, "plain", tmp_path)
    _all_identical(store, "plain", tmp_path / "read")
    assert config_version(store) == 2  # reading does not upgrade
    out = ok("check", "--read-data", "--store", store)  # a writer: upgrades on close
    assert "no problems found" in out
    assert config_version(store) == 3
    _all_identical(store, "plain", tmp_path / "upgraded")
    rebuilt_equals_live(store, tmp_path / "copy")
    _all_identical(tmp_path / "copy", "plain", tmp_path / "rebuilt")


@pytest.mark.parametrize("point", ["after-body", "after-header", "after-commit", "before-config"])
def test_upgrade_killed_at_every_step(tmp_path: Path, point: str) -> None:
    store = fixture_store(FIXTURES, "plain", tmp_path)
    crashed = cli("check", "--store", store, SNAPEXPORT_FAULT=f"journal:{point}=kill")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert config_version(store) == 2
    _all_identical(store, "plain", tmp_path / "crashed")
    out = ok("check", "--read-data", "--store", store)  # the next run finishes the upgrade
    assert "no problems found" in out
    assert config_version(store) == 3
    _all_identical(store, "plain", tmp_path / "finished")
    rebuilt_equals_live(store, tmp_path / "copy")


def test_encrypted_format2_store_on_new_machines(tmp_path: Path) -> None:
    store = fixture_store(FIXTURES, "enc", tmp_path)

    def machine(n: int) -> dict[str, str]:
        return {"SNAPEXPORT_PASSWORD": PASSWORD, "XDG_CACHE_HOME": str(tmp_path / f"cache{n}")}

    _all_identical(store, "enc", tmp_path / "m1", **machine(1))  # from format-2 copies
    assert config_version(store) == 2
    ok("check", "--read-data", "--store", store, **machine(1))
    assert config_version(store) == 3
    assert (store / "catalog" / "0000000003").is_file()  # the upgrade's checkpoint copy
    _all_identical(store, "enc", tmp_path / "m2", **machine(2))
    ok("rebuild-catalog", "--store", store, **machine(3))  # from the packs alone
    _all_identical(store, "enc", tmp_path / "m3", **machine(3))
