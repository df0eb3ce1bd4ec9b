"""ExportSource: an existing export read back as the records and files of a snapshot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import blake3
import pytest

from snapexport.errors import RequestError, SourceError
from snapexport.exportformat.manifest import EXPORTED_KEYS
from snapexport.source.export import ExportSource
from tests.sitetools import GOLDEN


def records_of(source: ExportSource) -> dict[str, list[tuple[str, str]]]:
    out = {}
    for model in source.info().sections:
        rows = list(source.rows(model))
        assert [r.sort_key for r in rows] == sorted(r.sort_key for r in rows)
        texts = {r.pk: r.text for r in source.serialize(model, [r.pk for r in rows])}
        for row in rows:
            assert row.fingerprint == blake3.blake3(texts[row.pk].encode()).digest()
        out[model] = [(r.pk, texts[r.pk]) for r in rows]
    return out


def expected_texts() -> list[str]:
    """plain/manifest.json's records without __exported_* keys, as json.dumps writes them."""
    records = json.loads((GOLDEN / "plain" / "manifest.json").read_text(encoding="utf-8"))
    out = []
    for record in records:
        clean = {k: v for k, v in record.items() if k not in EXPORTED_KEYS}
        out.append(json.dumps(clean, indent=2, ensure_ascii=False))
    return out


def test_plain_export_records_and_files() -> None:
    source = ExportSource(GOLDEN / "full" / "plain")
    with source.open():
        info = source.info()
        assert info.site_version == "3.0.5"
        assert info.sections[:3] == (
            "documents.correspondent",
            "documents.tag",
            "documents.documenttype",
        )
        assert info.sections.index("documents.document") < info.sections.index("auditlog.logentry")
        records = records_of(source)
        files = list(source.files())
    assert source.layout is not None and not source.layout.zip
    assert not source.layout.use_filename_format and not source.layout.split_manifest
    texts = [t for m in info.sections for _, t in records[m]]
    assert sorted(texts) == sorted(expected_texts())
    by_path = {f.path: f for f in files}
    doc1 = by_path["documents/originals/City Hall/2025/Statement statement 2894.pdf"]
    assert doc1.role == "original" and doc1.owner_pk == "1"
    assert doc1.checksum_algo == "sha256" and doc1.abs_path.name.endswith("2894.pdf")
    assert "documents/thumbnails/0000001.webp" in by_path
    assert "documents/share_link_bundles/bundles/bundle-0001.zip" in by_path
    # the exporter's stem collision: 169's thumbnail and archive were overwritten by 170's
    lost = [f for f in files if f.owner_pk == "169" and f.role in ("thumbnail", "archive")]
    assert len(lost) == 2
    for ref in lost:
        assert ref.stat is not None
        with pytest.raises(FileNotFoundError, match=r"holds documents\.document 170"):
            ref.stat()


def test_bundle_keeps_portable_file_path() -> None:
    source = ExportSource(GOLDEN / "full" / "plain")
    with source.open():
        rows = list(source.rows("documents.sharelinkbundle"))
        (record,) = source.serialize("documents.sharelinkbundle", [r.pk for r in rows])
    data = json.loads(record.text)
    assert data["fields"]["file_path"] == "bundles/bundle-0001.zip"
    assert not any(k.startswith("__exported") for k in data)


def test_zip_export_detects_flags_and_recovers_both_colliding_documents() -> None:
    source = ExportSource(GOLDEN / "full" / "zip-prefix-split.zip")
    with source.open():
        records = records_of(source)
        files = {(f.owner_pk, f.role): f for f in source.files()}
        sizes = {}
        for key in (("169", "thumbnail"), ("170", "thumbnail")):
            ref = files[key]
            assert ref.opener is not None and ref.stat is not None
            with ref.opener() as f:
                sizes[key] = len(f.read())
            assert ref.stat().st_size == sizes[key]
    layout = source.layout
    assert layout is not None
    assert layout.zip and layout.use_folder_prefix and layout.split_manifest
    assert not (layout.no_archive or layout.no_thumbnail or layout.data_only)
    assert sizes == {("169", "thumbnail"): 78, ("170", "thumbnail"): 88}
    texts = [t for m in records for _, t in records[m]]
    assert sorted(texts) == sorted(expected_texts())
    assert source.export_time is not None and source.export_time.year == 2026


def test_filename_format_export_gives_format_names(tmp_path: Path) -> None:
    export = tmp_path / "f"
    export.mkdir()
    shutil.copy(GOLDEN / "filenameformat" / "manifest.json", export)
    shutil.copy(GOLDEN / "filenameformat" / "metadata.json", export)
    source = ExportSource(export)
    with source.open():
        rows = list(source.rows("documents.document"))
        docs = list(source.serialize("documents.document", [r.pk for r in rows]))
        assert list(source.files()) == []
    assert source.layout is not None
    assert source.layout.use_filename_format and source.layout.data_only
    first = json.loads(docs[0].text)
    assert docs[0].extra == {"format_name": first["fields"]["filename"]}


@pytest.mark.parametrize("flagged", ["nothumb", "noarchive"])
def test_thumbnail_and_archive_flags(tmp_path: Path, flagged: str) -> None:
    export = tmp_path / flagged
    export.mkdir()
    shutil.copy(GOLDEN / flagged / "manifest.json", export)
    source = ExportSource(export)
    with source.open():
        pass
    assert source.layout is not None
    assert source.layout.no_thumbnail == (flagged == "nothumb")
    assert source.layout.no_archive == (flagged == "noarchive")


def test_passphrase_export_needs_and_uses_the_passphrase(tmp_path: Path) -> None:
    from snapexport.exportformat.crypto import FieldCrypto

    export = tmp_path / "p"
    export.mkdir()
    crypto = FieldCrypto("pw", iterations=1000)
    records = json.loads((GOLDEN / "plain" / "manifest.json").read_text(encoding="utf-8"))
    for record in records:
        if record["model"] == "paperless_mail.mailaccount":
            record["fields"]["password"] = crypto.encrypt(record["fields"]["password"])
    text = "[" + ",\n".join(json.dumps(r, indent=2, ensure_ascii=False) for r in records) + "\n]"
    (export / "manifest.json").write_text(text, encoding="utf-8")
    (export / "metadata.json").write_text(json.dumps({"version": "3.0.5", **crypto.params()}))
    with pytest.raises(RequestError, match="passphrase"), ExportSource(export).open():
        pass
    with (
        pytest.raises(RequestError, match="does not decrypt"),
        ExportSource(export, passphrase="no").open(),
    ):
        pass
    source = ExportSource(export, passphrase="pw")
    with source.open():
        rows = list(source.rows("paperless_mail.mailaccount"))
        (account,) = source.serialize("paperless_mail.mailaccount", [r.pk for r in rows])
    assert json.loads(account.text)["fields"]["password"] == "plaintext-secret"
    assert source.layout is not None and source.layout.passphrase


def test_not_an_export(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"no manifest\.json"), ExportSource(tmp_path).open():
        pass
    with (
        pytest.raises(SourceError, match="no such file or folder"),
        ExportSource(tmp_path / "x").open(),
    ):
        pass
    (tmp_path / "notes.txt").write_text("hello")
    with (
        pytest.raises(SourceError, match="neither an export folder nor a zip"),
        ExportSource(tmp_path / "notes.txt").open(),
    ):
        pass
    (tmp_path / "manifest.json").write_text("[\n]")
    (tmp_path / "metadata.json").write_text("{oops")
    with (
        pytest.raises(SourceError, match=r"metadata\.json is not readable JSON"),
        ExportSource(tmp_path).open(),
    ):
        pass
