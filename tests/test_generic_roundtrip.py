"""The generic django profile, round trip: snapshot a plain Django project, materialize it,
restore it with ``loaddata`` plus a copy of the media folder, and compare with the original.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.sitetools import cli, env_for, tree

TESTS = Path(__file__).resolve().parent


def _ctl(command: str, folder: Path, *rest: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "testproject.sitectl", command, str(folder), *rest],
        capture_output=True,
        text=True,
        cwd=TESTS,
        env=env_for(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_plain_django_project_round_trips_through_loaddata(tmp_path: Path) -> None:
    original, restored, store, out = (tmp_path / n for n in ("a", "b", "store", "out"))
    _ctl("create", original)
    assert cli("init", "--store", store).returncode == 0
    snap = cli(
        "snapshot", "--store", store, "--settings", "testproject.settings",
        "--pythonpath", TESTS, "--profile", "django", "--json",
        TESTPROJECT_DIR=str(original),
    )  # fmt: skip
    assert snap.returncode == 0, snap.stderr
    summary = json.loads(snap.stdout)
    assert summary["records"]["new"] > 20 and summary["files_read"] > 10

    out.mkdir()
    mat = cli("materialize", "--store", store, out)
    assert mat.returncode == 0, mat.stderr

    # Restore as a user would: a fresh database, loaddata, then the files back. Files sit at
    # their MEDIA_ROOT-relative paths; a storage outside MEDIA_ROOT gets its folder's name.
    _ctl("migrate", restored)
    _ctl("load", restored, str(out / "manifest.json"))
    shutil.copytree(out / "scans", restored / "scans")
    shutil.copytree(
        out, restored / "media", ignore=shutil.ignore_patterns("manifest.json", "scans")
    )

    assert json.loads(_ctl("dump", restored)) == json.loads(_ctl("dump", original))
    assert tree(restored / "scans") == tree(original / "scans")
    assert tree(restored / "media") == tree(original / "media/attachments", prefix="attachments/")
