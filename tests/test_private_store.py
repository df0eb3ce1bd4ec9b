"""Store files are 0600 and store folders 0700 whatever the umask (the catalog holds every
record and OCR text): the real CLI under the usual umask 022, plain and encrypted."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tests.sitetools import SETTINGS, cli, generate


def _modes(root: Path) -> dict[str, str]:
    out = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for p in sorted(root.rglob("*")):
        out[p.relative_to(root).as_posix()] = oct(stat.S_IMODE(p.lstat().st_mode))
    return out


def _not_private(root: Path) -> dict[str, str]:
    return {
        rel: mode
        for rel, mode in _modes(root).items()
        if int(mode, 8) != (0o700 if (root / rel).is_dir() else 0o600)
    }


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_new_store_is_private_under_umask_022(tmp_path: Path, encrypted: bool) -> None:
    site = tmp_path / "site"
    generate("create", site, "--documents", "6")
    store = tmp_path / "store"
    cache = tmp_path / "cache"
    env = {"SNAPEXPORT_CACHE_DIR": str(cache), "SNAPEXPORT_PASSWORD": "pw",
           "SNAPEXPORT_SCRYPT_N": "1024"}  # fmt: skip

    def run(*args: str | Path) -> None:
        done = cli(*args, site=site, umask=0o022, **env)
        assert done.returncode == 0, done.stderr

    run("init", "--store", store, *(["--encrypt"] if encrypted else []))
    run("snapshot", "--store", store, "--settings", SETTINGS)
    generate("night", site)
    run("snapshot", "--store", store, "--settings", SETTINGS)
    run("prune", "--store", store, "--keep-last", "1", "--max-unused", "0")
    run("check", "--store", store, "--read-data")
    if not encrypted:
        (store / "catalog.sqlite").unlink()
        run("rebuild-catalog", "--store", store)
    run("snapshots", "--store", store)
    assert (store / "packs").is_dir() and (store / "locks").is_dir()
    assert _not_private(store) == {}
    if encrypted:
        assert any(cache.rglob("catalog.sqlite"))
        assert _not_private(cache) == {}
    # What materialize writes is the user's export, not the store: it follows the umask.
    target = tmp_path / "export"
    run("materialize", "--store", store, "latest", target)
    manifest = target / "manifest.json"
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o644
    assert os.access(manifest, os.R_OK)
