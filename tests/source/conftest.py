"""The demo site, set up in this test process once (Django can be set up only once)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

DEMO_DOCUMENTS = 120


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo site with the demo settings active in this process."""
    from django.conf import settings

    if settings.configured and os.environ.get("DJANGO_SETTINGS_MODULE") != (
        "snapexport.demo.settings"
    ):
        pytest.skip("this test process already runs another Django site")
    if settings.configured:
        return Path(settings.DEMO_DIR)
    folder = tmp_path_factory.mktemp("demo-site")
    from snapexport.demo.generate import create_site

    create_site(folder, documents=DEMO_DOCUMENTS, seed=3)
    return folder


@pytest.fixture
def demo_source(demo_site: Path) -> Iterator[object]:
    from snapexport.source import connect_site

    source = connect_site("snapexport.demo.settings")
    yield source


@pytest.fixture
def rollback(demo_site: Path) -> Iterator[None]:
    """Changes made in the test are rolled back afterwards (files are not touched)."""
    from django.db import transaction

    with transaction.atomic():
        yield
        transaction.set_rollback(True)
