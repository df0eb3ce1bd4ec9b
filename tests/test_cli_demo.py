"""``snapexport demo``: README's main job, run as a user would."""

from __future__ import annotations

import json
from pathlib import Path

from tests.sitetools import cli


def test_demo_snapshots_a_night_and_reports_its_cost(tmp_path: Path) -> None:
    done = cli("demo", tmp_path / "demo", "--documents", "25", "--json")
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    first, night = runs["first snapshot"], runs["after one night"]
    assert first["documents"]["new"] >= 25 and first["complete"]
    assert night["documents"]["unchanged"] > 0
    assert night["bytes_stored"] < first["bytes_stored"]
    # A second call simulates one more night on the same site and store.
    again = cli("demo", tmp_path / "demo", "--json")
    assert again.returncode == 0, again.stderr
    assert list(json.loads(again.stdout)) == ["after one night"]
    listed = json.loads(cli("snapshots", "--store", tmp_path / "demo/store", "--json").stdout)
    assert len(listed) == 3


def test_demo_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("mine")
    done = cli("demo", tmp_path)
    assert done.returncode == 2
    assert "not empty" in done.stderr
