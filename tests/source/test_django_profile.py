"""The generic profile on tests/testproject, run in a subprocess (its own Django)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("testproject")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-m", "testproject.check_source", str(folder)],
        cwd=TESTS,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    result["folder"] = str(folder)
    return result


def test_profile_detected(report: dict[str, Any]) -> None:
    assert report["profile"] == "django"


def test_records_equal_dumpdata_in_every_variant(report: dict[str, Any]) -> None:
    assert report["mismatches"] == []
    assert report["record_counts"]["shelf.book"] == 12


def test_contenttypes_and_permissions_skipped_by_default(report: dict[str, Any]) -> None:
    default, with_ct, _natural_pk = report["variant_sections"]
    assert "contenttypes.contenttype" not in default
    assert "auth.permission" not in default
    assert "contenttypes.contenttype" in with_ct
    # Dependency order: natural-key targets before the models that point at them.
    assert default.index("shelf.author") < default.index("shelf.book")
    assert default.index("shelf.book") < default.index("shelf.attachment")


def test_meta_ordering_through_a_relation(report: dict[str, Any]) -> None:
    assert report["order_db"] == report["order_django"] == report["order_sortkey"]


def test_files_from_storages_and_extra_folders(report: dict[str, Any]) -> None:
    folder = Path(report["folder"])
    files = {path: (abs_path, owner) for path, abs_path, _role, owner, _pk in report["files"]}
    assert "attachments/book0.txt" in files
    assert files["attachments/book0.txt"][0] == str(folder / "media/attachments/book0.txt")
    # A storage outside MEDIA_ROOT is named by its folder.
    assert files["scans/scan1.bin"][0] == str(folder / "scans/scan1.bin")
    # Extra folder with excludes ('*.tmp', 'cache'); a shared file listed once.
    assert "extras/keep.txt" in files
    assert not any(p.endswith(".tmp") or "/cache/" in p for p in files)
    assert len(report["files"]) == len(files) == 19


def test_fast_path_sees_natural_key_and_m2m_order_changes(report: dict[str, Any]) -> None:
    assert report["fastpath_violations"] == []
    assert report["fastpath_changed"] > 0
