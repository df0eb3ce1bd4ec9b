"""Errors a user can meet get one line naming the path and the next step, and lose nothing:
a full disk (a real size-limited tmpfs in a mount namespace), a damaged catalog, a reader
that goes away (``| head -1``), files the user may not read."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sitetools import SETTINGS, cli, env_for, generate


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site") / "site"
    generate("create", folder, "--documents", "6")
    return folder


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


_FULL_DISK = """
set -u
mount -t tmpfs -o size=300k none "$DISK" || exit 99
"$PY" -m snapexport init --store "$DISK/store" > /dev/null || exit 98
"$PY" -m snapexport snapshot --store "$DISK/store" --settings "$SETTINGS" 2> "$OUT/snapshot.err"
echo $? > "$OUT/snapshot.rc"
"$PY" -m snapexport check --store "$DISK/store" --read-data > "$OUT/check.out" 2>&1
echo $? > "$OUT/check.rc"
"$PY" -m snapexport snapshots --store "$DISK/store" --json > "$OUT/snapshots.json"
ls -A "$DISK/store/tmp" > "$OUT/tmp.ls"
"""


def test_a_full_disk_names_the_store_and_loses_nothing(site: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    env = env_for(site, DISK=str(disk), OUT=str(tmp_path), PY=sys.executable, SETTINGS=SETTINGS)
    # A private mount namespace (as root, or as a mapped root in a user namespace): the
    # 300 KiB tmpfs holds a new store but not the site's snapshot.
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", _FULL_DISK], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "snapshot.rc").read_text().strip() == "1"
    line = _one_line((tmp_path / "snapshot.err").read_text())
    assert "full" in line and str(disk / "store") in line and "free space" in line, line
    # Nothing half-written: the store checks clean, holds no snapshot and no temp files.
    assert (tmp_path / "check.rc").read_text().strip() == "0", (tmp_path / "check.out").read_text()
    assert json.loads((tmp_path / "snapshots.json").read_text()) == []
    assert (tmp_path / "tmp.ls").read_text() == ""


def test_a_damaged_catalog_suggests_rebuild_catalog(site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert cli("init", "--store", store).returncode == 0
    done = cli("snapshot", "--store", store, "--settings", SETTINGS, site=site)
    assert done.returncode == 0, done.stderr
    catalog = store / "catalog.sqlite"
    data = bytearray(catalog.read_bytes())
    data[4096:] = b"\x5a" * (len(data) - 4096)  # every page but the first is garbage
    catalog.write_bytes(bytes(data))
    done = cli("snapshots", "--store", store)
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert "damaged" in line or "unreadable" in line, line
    assert "rebuild-catalog" in line, line
    # ... and that next step works.
    catalog.unlink()
    assert cli("rebuild-catalog", "--store", store).returncode == 0
    listed = json.loads(cli("snapshots", "--store", store, "--json").stdout)
    assert len(listed) == 1


def test_a_reader_that_goes_away_stops_diff_quietly(site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert cli("init", "--store", store).returncode == 0
    night = tmp_path / "site"
    shutil.copytree(site, night)
    for _ in range(2):
        done = cli("snapshot", "--store", store, "--settings", SETTINGS, site=night)
        assert done.returncode == 0, done.stderr
        generate("night", night, "--new-every", "1", "--edit-every", "1")
    done = cli("snapshot", "--store", store, "--settings", SETTINGS, site=night)
    assert done.returncode == 0, done.stderr
    # ``diff ... | head -1``: head reads one line and exits; diff then meets a closed pipe.
    piped = subprocess.run(
        f"set -o pipefail; {sys.executable} -m snapexport diff --store {store} latest~2 latest"
        " --fields | head -1",
        shell=True, executable="/bin/bash", capture_output=True, text=True, env=env_for(),
        timeout=120,
    )  # fmt: skip
    assert piped.stdout.count("\n") == 1
    assert piped.stderr == ""  # no "[Errno 32] Broken pipe", no traceback
    assert piped.returncode in (0, 141)  # 141: diff stopped by the closed pipe, as C tools do


def test_a_reader_that_is_gone_before_any_output(site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert cli("init", "--store", store).returncode == 0
    assert cli("snapshot", "--store", store, "--settings", SETTINGS, site=site).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "snapexport", "snapshots", "--store", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def _as_other_user(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The CLI as uid 1000 in a user namespace: files of this (root or not) user look
    like that user's own, without root's power to read what their modes forbid."""
    return subprocess.run(
        ["unshare", "-U", "--map-user=1000", "--map-group=1000",
         sys.executable, "-m", "snapexport", *map(str, args)],
        capture_output=True, text=True, env=env_for(), timeout=120,
    )  # fmt: skip


def test_permission_errors_name_the_path_and_the_next_step(site: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert cli("init", "--store", store).returncode == 0
    assert cli("snapshot", "--store", store, "--settings", SETTINGS, site=site).returncode == 0
    catalog = store / "catalog.sqlite"
    catalog.chmod(0)
    try:
        done = _as_other_user("snapshots", "--store", store)
    finally:
        catalog.chmod(0o600)
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert str(catalog) in line and "permission denied" in line and "owner" in line, line
    packs = store / "packs"
    packs.chmod(0)
    try:
        done = _as_other_user("materialize", "--store", store, "latest", tmp_path / "out")
    finally:
        packs.chmod(0o700)
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert str(packs) in line and "permission denied" in line, line
