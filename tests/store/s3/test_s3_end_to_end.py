"""The real CLI in subprocesses on the demo site: local folder, S3, and both encrypted.

Each mode runs init, two snapshots, materialize, diff, prune and check; then the local
catalog (and cache) is thrown away and materialize on "a new machine" must write the same
bytes, rebuilt from the store's catalog copy or, when that is gone too, from the packs.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = 12


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snapexport", *args],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=120,
    )  # fmt: skip


def _ok(*args: str, env: dict[str, str]) -> str:
    done = _cli(*args, env=env)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def _same_tree(a: Path, b: Path) -> None:
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b and files_a
    for rel in files_a:
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site") / "site"
    subprocess.run(
        [sys.executable, "-m", "snapexport.demo.generate", "create", str(folder),
         "--documents", str(DOCS)],
        check=True, capture_output=True,
    )  # fmt: skip
    return folder


@pytest.mark.parametrize("mode", ["local", "local-encrypted", "s3", "s3-encrypted"])
def test_cli_round_trip_and_new_machine(
    mode: str, site: Path, tmp_path: Path, s3_env: dict[str, str]
) -> None:
    env = dict(s3_env)
    store = env["STORE"] if mode.startswith("s3") else str(tmp_path / "store")
    env["SNAPEXPORT_DEMO_DIR"] = str(site)
    encrypted = mode.endswith("encrypted")
    if encrypted:
        env["SNAPEXPORT_PASSWORD"] = "correct horse"
    work_site = tmp_path / "site"
    shutil.copytree(site, work_site)
    env["SNAPEXPORT_DEMO_DIR"] = str(work_site)
    snap = ("snapshot", "--store", store, "--settings", "snapexport.demo.settings")

    _ok("init", "--store", store, *(["--encrypt"] if encrypted else []), env=env)
    _ok(*snap, env=env)
    subprocess.run(
        [sys.executable, "-m", "snapexport.demo.generate", "night", str(work_site),
         "--seed", "3"],
        check=True, capture_output=True,
    )  # fmt: skip
    _ok(*snap, env=env)
    first = tmp_path / "first"
    first.mkdir()
    _ok("materialize", "--store", store, "latest", str(first), env=env)
    # The night adds one document to a 12-document site (one per 100, at least one).
    changed = json.loads(_ok("diff", "--store", store, "latest~1", "latest", "--json", env=env))
    assert changed["documents"].get("added", 0) >= 1, changed["documents"]
    assert any(c["model"] == "documents.document" and c["kind"] == "added"
               for c in changed["changes"])  # fmt: skip
    _ok("prune", "--store", store, "--keep-last", "1", env=env)
    _ok("check", "--store", store, "--read-data", env=env)

    # a new machine: no cache, no local catalog
    shutil.rmtree(env["SNAPEXPORT_CACHE_DIR"], ignore_errors=True)
    if mode == "local":
        (Path(store) / "catalog.sqlite").unlink()
        assert _cli("snapshots", "--store", store, env=env).returncode == 1
        _ok("rebuild-catalog", "--store", store, env=env)
    again = tmp_path / "again"
    again.mkdir()
    _ok("materialize", "--store", store, "latest", str(again), env=env)
    _same_tree(first, again)

    if mode != "local":
        # the catalog copies are gone as well: rebuild from the packs alone
        shutil.rmtree(env["SNAPEXPORT_CACHE_DIR"], ignore_errors=True)
        _remove_copies(store, env)
        packs_only = tmp_path / "packs-only"
        packs_only.mkdir()
        _ok("materialize", "--store", store, "latest", str(packs_only), env=env)
        _same_tree(first, packs_only)
    assert "1 snapshot(s)" in _ok("snapshots", "--store", store, env=env)
    _ok("check", "--store", store, "--read-data", env=env)


def _remove_copies(store: str, env: dict[str, str]) -> None:
    from snapexport.store.backend import open_backend
    from snapexport.store.location import StoreLocation

    backend = open_backend(StoreLocation.parse(store))
    names = [n for n, _ in backend.list("catalog/")]
    assert names
    for name in names:
        backend.remove(name)
