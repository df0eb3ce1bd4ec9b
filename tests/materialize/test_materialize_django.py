"""The generic ``django`` profile: a loaddata-ready manifest and files at storage paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mat_views import SourceView

from snapexport.errors import ExportRequestError, MaterializeError
from snapexport.materialize import ExportOptions, materialize


def test_django_profile_writes_all_records_and_storage_paths(
    plain_view: SourceView, tmp_path: Path
) -> None:
    view = plain_view.copy().with_meta(profile="django")
    result = materialize(view, tmp_path, ExportOptions())
    records = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    sections = view.meta.info["sections"]
    assert [r["model"] for r in records] == sorted(
        (r["model"] for r in records), key=sections.index
    )
    assert not any(k.startswith("__exported") for r in records for k in r)
    assert (tmp_path / "documents/originals/City Hall/2025/Statement statement 2894.pdf").exists()
    assert (tmp_path / "documents/thumbnails/0000001.webp").exists()
    assert not (tmp_path / "metadata.json").exists()
    assert result.records == len(records)


def test_django_profile_refuses_paperless_flags(plain_view: SourceView, tmp_path: Path) -> None:
    view = plain_view.copy().with_meta(profile="django")
    with pytest.raises(ExportRequestError, match="paperless snapshots only"):
        materialize(view, tmp_path, ExportOptions(split_manifest=True))


def test_django_profile_names_the_file_that_failed_behind_the_writer(
    plain_view: SourceView, tmp_path: Path
) -> None:
    """Files are written on a writer thread; a failure names its own path, not the next."""
    view = plain_view.copy().with_meta(profile="django")
    victim = "documents/thumbnails/0000001.webp"
    (tmp_path / victim).mkdir(parents=True)  # its rename fails on the writer thread
    with pytest.raises(MaterializeError, match=rf"cannot write '{victim}'"):
        materialize(view, tmp_path, ExportOptions())
