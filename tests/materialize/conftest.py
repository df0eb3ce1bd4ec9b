"""Fixtures for the materialize tests; the views themselves are in ``mat_views.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mat_views import GoldenMtimes, SourceView

from snapexport.source.export import ExportSource
from tests.sitetools import GOLDEN

_VIEWS: dict[tuple[str, str | None], SourceView] = {}


@pytest.fixture
def ingest() -> Callable[..., SourceView]:
    """``ingest(path, passphrase=None)``: a view of an export, cached per path."""

    def make(path: Path, passphrase: str | None = None) -> SourceView:
        key = (str(path), passphrase)
        if key not in _VIEWS:
            source: Any = ExportSource(path, passphrase=passphrase)
            if path == GOLDEN / "full" / "plain":
                source = GoldenMtimes(source, path)
            _VIEWS[key] = SourceView(source)
        return _VIEWS[key].copy()

    return make


@pytest.fixture
def plain_view(ingest: Callable[..., SourceView]) -> SourceView:
    return ingest(GOLDEN / "full" / "plain")
