"""A tiny demo site shared by the journal tests (built once per run)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.sitetools import generate


@pytest.fixture(scope="session")
def site_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("journal-site") / "site"
    generate("create", site, "--documents", "4", "--seed", "5")
    return site


@pytest.fixture
def site(site_template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(site_template, tmp_path / "site", copy_function=shutil.copy2))
