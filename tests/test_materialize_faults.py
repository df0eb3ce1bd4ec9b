"""A killed or interrupted materialize, through the real CLI at SNAPEXPORT_FAULT points: the
next run into the same target removes the leftovers and writes the same export."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.sitetools import SETTINGS, cli, generate, tree


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("mat-faults")
    site = base / "site"
    generate("create", site, "--documents", "6")
    path = base / "store"
    assert cli("init", "--store", path).returncode == 0
    done = cli("snapshot", "--store", path, "--settings", SETTINGS, site=site)
    assert done.returncode == 0, done.stderr
    return path


def _reference(store: Path, folder: Path, *flags: str) -> dict[str, bytes]:
    done = cli("materialize", "--store", store, *flags, "latest", folder)
    assert done.returncode == 0, done.stderr
    return tree(folder)


def test_a_killed_folder_materialize_is_tidied_by_the_next_run(store: Path, tmp_path: Path) -> None:
    want = _reference(store, tmp_path / "reference")
    target = tmp_path / "target"
    done = cli("materialize", "--store", store, "latest", target,
               SNAPEXPORT_FAULT="materialize:in-file=kill")  # fmt: skip
    assert done.returncode == -signal.SIGKILL
    assert [p.name for p in target.rglob(".snapexport-*.tmp")]  # the file it was writing
    done = cli("materialize", "--store", store, "latest", target)
    assert done.returncode == 0, done.stderr
    assert tree(target) == want  # no leftover, nothing missing
    assert cli("diff", "--store", store, "latest", target).returncode == 0


def test_an_interrupted_folder_materialize_says_the_export_is_partial(
    store: Path, tmp_path: Path
) -> None:
    want = _reference(store, tmp_path / "reference")
    target = tmp_path / "new" / "target"
    done = cli("materialize", "--store", store, "latest", target,
               SNAPEXPORT_FAULT="materialize:in-file=interrupt")  # fmt: skip
    assert done.returncode == 130
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"the export in {target} is partial" in lines[0], done.stderr
    assert "nothing was committed" not in done.stderr
    assert not list(target.rglob("*.tmp"))
    done = cli("materialize", "--store", store, "latest", target)
    assert done.returncode == 0, done.stderr
    assert tree(target) == want


def test_a_killed_zip_materialize_leaves_nothing_after_the_next_run(
    store: Path, tmp_path: Path
) -> None:
    flags = ("--zip", "--zip-name", "export")
    want = _reference(store, tmp_path / "reference", *flags)
    target = tmp_path / "target"
    done = cli("materialize", "--store", store, *flags, "latest", target,
               SNAPEXPORT_FAULT="materialize:in-file=kill")  # fmt: skip
    assert done.returncode == -signal.SIGKILL
    assert not (target / "export.zip").exists()
    done = cli("materialize", "--store", store, *flags, "latest", target)
    assert done.returncode == 0, done.stderr
    assert sorted(tree(target)) == sorted(want) == ["export.zip"]
    assert cli("diff", "--store", store, "latest", target / "export.zip").returncode == 0
    done = cli("materialize", "--store", store, *flags, "latest", target,
               SNAPEXPORT_FAULT="materialize:in-file=interrupt")  # fmt: skip
    assert done.returncode == 130
    assert sorted(tree(target)) == ["export.zip"]  # the earlier zip is kept, no temp file
