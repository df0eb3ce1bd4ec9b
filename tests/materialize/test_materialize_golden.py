"""Golden tests: every folder of tests/golden/paperless-3.0.5-d200, byte for byte.

The snapshot comes from ingesting the real export ``full/plain`` (or the real zip
``full/zip-prefix-split.zip``) through ExportSource; materialize then writes it with each
variant's flags and the output is compared with what the real exporter wrote: every JSON
byte, every file's (path, size, sha256, mtime_ns), every zip entry's (name, order, size,
sha256, compression, mode).

The one difference is snapexport's documented departure: documents 169
(``2025-06-15 Tax Office Offer ticket 6705.pdf``) and 170 (the same stem, ``.txt``) share
``-thumbnail.webp``/``-archive.pdf``/``-manifest.json`` names in the exporter's output; we
give 170 the counter ``_01``. Where the exporter's folder export lost 169's files (170's
overwrote them), the snapshot ingested from it lacks them and says so.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mat_views import GOLDEN, SourceView, golden_files, golden_zip_entries, tree

from snapexport.materialize import ExportOptions, materialize

STEM = "2025-06-15 Tax Office Offer ticket 6705"
DERIVED = ("-thumbnail.webp", "-archive.pdf", "-manifest.json")

VARIANTS: dict[str, ExportOptions] = {
    "plain": ExportOptions(),
    "prefix": ExportOptions(use_folder_prefix=True),
    "split": ExportOptions(split_manifest=True),
    "prefix-split": ExportOptions(use_folder_prefix=True, split_manifest=True),
    "nothumb": ExportOptions(no_thumbnail=True),
    "noarchive": ExportOptions(no_archive=True),
    "dataonly": ExportOptions(data_only=True),
    "filenameformat": ExportOptions(use_filename_format=True),
}
JSON_NAMES = ("manifest.json", "metadata.json")


def depart_name(name: str) -> str:
    """Document 170's name under snapexport's counter departure."""
    base = name.rsplit("/", 1)[-1]
    folder = name[: len(name) - len(base)]
    for suffix in (".txt", *DERIVED):
        if base == STEM + suffix:
            return folder + STEM + "_01" + suffix
    return name


def depart_text(text: str, *, shared: bool) -> str:
    """Golden JSON with document 170's names under the departure.

    ``shared``: the text holds both documents' names (derived ones twice, 170's last).
    """
    text = text.replace(f'{STEM}.txt"', f'{STEM}_01.txt"')
    for suffix in DERIVED:
        old, new = f'{STEM}{suffix}"', f'{STEM}_01{suffix}"'
        if shared:
            if text.count(old) == 2:
                i = text.rfind(old)
                text = text[:i] + new + text[i + len(old) :]
        else:
            text = text.replace(old, new)
    return text


def split_of(doc_pk: int, prefix: bool) -> bytes:
    """Document 169's split manifest, built from the golden plain manifest with json.dumps."""
    records = json.loads((GOLDEN / "plain" / "manifest.json").read_text(encoding="utf-8"))
    doc = next(r for r in records if r["model"] == "documents.document" and r["pk"] == doc_pk)
    if prefix:
        doc["__exported_file_name__"] = "originals/" + doc["__exported_file_name__"]
        doc["__exported_thumbnail_name__"] = "thumbnails/" + doc["__exported_thumbnail_name__"]
        doc["__exported_archive_name__"] = "archive/" + doc["__exported_archive_name__"]
    content = [doc]
    for model in ("documents.note", "documents.customfieldinstance"):
        content += [r for r in records if r["model"] == model and r["fields"]["document"] == doc_pk]
    return json.dumps(content, indent=2, ensure_ascii=False).encode("utf-8")


def read_golden(variant: str, rel: str) -> bytes:
    return (GOLDEN / variant / rel).read_bytes()


@pytest.fixture
def complete_view(plain_view: SourceView, zip_view: SourceView) -> SourceView:
    """full/plain plus document 169's thumbnail and archive, which only the zip kept.

    Their mtimes are the exact ones (filenameformat/files.tsv), not the zip's 2-second ones.
    """
    view = plain_view.copy()
    mtimes = golden_files("filenameformat")
    for role, name in (("thumbnail", "0000169-thumbnail.webp"), ("archive", "0000169-archive.pdf")):
        stored = zip_view.files_of("documents.document", "169")[role]
        view.add_file(replace(stored, mtime_ns=mtimes[name][2]), zip_view.blobs[stored.blob])
    return view


def lost_by_exporter(options: ExportOptions) -> dict[str, tuple[int, str, int]]:
    """Document 169's derived files the exporter's folder export overwrote with 170's."""
    facts = golden_files("filenameformat")
    prefix = options.use_folder_prefix
    out = {}
    if not options.no_thumbnail:
        name = ("thumbnails/" if prefix else "") + f"{STEM}-thumbnail.webp"
        out[name] = facts["0000169-thumbnail.webp"]
    if not options.no_archive:
        name = ("archive/" if prefix else "") + f"{STEM}-archive.pdf"
        out[name] = facts["0000169-archive.pdf"]
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_directory_variant(variant: str, complete_view: SourceView, tmp_path: Path) -> None:
    options = VARIANTS[variant]
    result = materialize(complete_view, tmp_path, options)
    assert result.complete
    golden = golden_files(variant)
    ours = tree(tmp_path)
    departs = variant != "filenameformat"

    expected: dict[str, tuple[int, str, int]] = {}
    for path, facts in golden.items():
        expected[depart_name(path) if departs else path] = facts
    split = options.split_manifest
    if departs and split:
        # the exporter's folder holds 170's split manifest under the shared name; 169's is ours
        lost = ("json/" if options.use_folder_prefix else "") + f"{STEM}-manifest.json"
        data = split_of(169, options.use_folder_prefix)
        expected[lost] = (len(data), hashlib.sha256(data).hexdigest(), 0)
    if departs and not options.data_only:
        expected.update(lost_by_exporter(options))

    json_paths = {p for p in expected if p.endswith(".json")}
    assert set(ours) == set(expected)
    for path in sorted(set(ours)):
        size, sha, mtime = expected[path]
        if path in json_paths:
            golden_path = path.replace(f"{STEM}_01", STEM) if departs else path
            if path in JSON_NAMES or golden_path != path:
                want = read_golden(variant, golden_path).decode("utf-8")
                want_bytes = depart_text(want, shared=path in JSON_NAMES).encode("utf-8")
                if departs:
                    assert (tmp_path / path).read_bytes() == want_bytes, path
                    continue
            assert ours[path][:2] == (size, sha), path
        else:
            assert ours[path] == (size, sha, mtime), path

    if departs:
        assert len(result.departures) == 1 and result.departures[0].startswith("document 170:")
    else:
        assert result.departures == ()
    assert result.warnings == ("No passphrase was given, sensitive fields will be in plaintext",)


def test_plain_reports_what_the_exporter_lost(plain_view: SourceView, tmp_path: Path) -> None:
    result = materialize(plain_view, tmp_path, ExportOptions())
    assert not result.complete
    assert sorted((m.owner_pk, m.role) for m in result.missing) == [
        ("169", "archive"),
        ("169", "thumbnail"),
    ]
    assert all("170" in m.reason for m in result.missing)


def test_passphrase_format(complete_view: SourceView, tmp_path: Path) -> None:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    result = materialize(complete_view, tmp_path, ExportOptions(passphrase="s3cret"))
    assert result.warnings == ()
    ours_meta = json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))
    gold_meta = json.loads(read_golden("passphrase", "metadata.json"))
    assert ours_meta.keys() == gold_meta.keys()
    crypto = ours_meta["__crypto__"]
    assert {k: v for k, v in crypto.items() if k != "__salt_hex__"} == {
        k: v for k, v in gold_meta["__crypto__"].items() if k != "__salt_hex__"
    }
    assert len(bytes.fromhex(crypto["__salt_hex__"])) == 16
    assert (tmp_path / "metadata.json").read_bytes() == read_golden(
        "passphrase", "metadata.json"
    ).replace(gold_meta["__crypto__"]["__salt_hex__"].encode(), crypto["__salt_hex__"].encode())

    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=32,
        salt=bytes.fromhex(crypto["__salt_hex__"]),
        iterations=1_000_000,
    )
    import base64

    fernet = Fernet(base64.urlsafe_b64encode(kdf.derive(b"s3cret")))
    ours_text = (tmp_path / "manifest.json").read_text(encoding="utf-8")
    gold_text = depart_text(read_golden("passphrase", "manifest.json").decode(), shared=True)
    ours_records, gold_records = json.loads(ours_text), json.loads(gold_text)
    secrets_seen = 0
    for ours, gold in zip(ours_records, gold_records, strict=True):
        if ours["model"] == "paperless_mail.mailaccount":
            for name in ("password", "refresh_token"):
                value, golden_value = ours["fields"][name], gold["fields"][name]
                if golden_value:
                    assert fernet.decrypt(bytes.fromhex(value)) == b"plaintext-secret"
                    assert bytes.fromhex(golden_value).startswith(b"gAAAAA")  # hex of a token
                    ours_text = ours_text.replace(value, golden_value)
                    secrets_seen += 1
                else:
                    assert value == golden_value
    assert secrets_seen == 1
    assert ours_text == gold_text
    ours_files = tree(tmp_path)
    expected = {depart_name(p): f for p, f in golden_files("passphrase").items()}
    expected.update(lost_by_exporter(ExportOptions()))
    assert set(ours_files) == set(expected)
    for path, facts in expected.items():
        if not path.endswith(".json"):
            assert ours_files[path] == facts


# -- zips -------------------------------------------------------------------------------


@pytest.fixture
def zip_view(ingest: Callable[..., SourceView]) -> SourceView:
    return ingest(GOLDEN / "full" / "zip-prefix-split.zip")


def zip_entries(path: Path) -> list[tuple[str, int, str, int, str]]:
    out = []
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            data = z.read(info)
            out.append(
                (
                    info.filename,
                    info.file_size,
                    hashlib.sha256(data).hexdigest(),
                    info.compress_type,
                    oct(info.external_attr >> 16),
                )
            )
    return out


def expected_zip_entries(variant: str) -> list[tuple[str, int, str, int, str]]:
    """The golden entries, with 170's names (its later duplicates) under the departure."""
    seen: set[str] = set()
    out = []
    json_dir = GOLDEN / variant / "in-zip"
    for name, size, sha, ctype, mode in golden_zip_entries(variant):
        new = name
        if (name in seen and STEM in name) or name.endswith(f"{STEM}.txt"):
            new = depart_name(name)
        seen.add(name)
        if name in JSON_NAMES:
            data = depart_text((json_dir / name).read_text(encoding="utf-8"), shared=True)
            size, sha = len(data.encode()), hashlib.sha256(data.encode()).hexdigest()
        elif new != name and name.endswith("-manifest.json"):
            data = depart_text((json_dir / name).read_text(encoding="utf-8"), shared=False)
            size, sha = len(data.encode()), hashlib.sha256(data.encode()).hexdigest()
        out.append((new, size, sha, ctype, mode))
    return out


@pytest.mark.parametrize(
    ("variant", "options"),
    [
        ("zip", ExportOptions(zip=True, zip_name="export")),
        (
            "zip-prefix-split",
            ExportOptions(zip=True, zip_name="export", use_folder_prefix=True, split_manifest=True),
        ),
    ],
)
def test_zip_variant(
    variant: str, options: ExportOptions, zip_view: SourceView, tmp_path: Path
) -> None:
    result = materialize(zip_view, tmp_path, options)
    assert result.path == tmp_path / "export.zip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.zip"]
    assert result.complete, result.missing
    ours = zip_entries(result.path)
    want = expected_zip_entries(variant)
    assert [e[0] for e in ours] == [e[0] for e in want]
    assert ours == want


def test_zip_round_trip_keeps_entry_dates(zip_view: SourceView, tmp_path: Path) -> None:
    """full/zip-prefix-split.zip ingested and written back: same file entries and dates."""
    options = ExportOptions(zip=True, zip_name="again", use_folder_prefix=True, split_manifest=True)
    result = materialize(zip_view, tmp_path, options)
    with zipfile.ZipFile(GOLDEN / "full" / "zip-prefix-split.zip") as z:
        golden = {(i.filename, i.CRC): i for i in z.infolist()}
    with zipfile.ZipFile(result.path) as z:
        for info in z.infolist():
            if info.filename.endswith(".json") or STEM in info.filename:
                continue
            gold: Any = golden[(info.filename, info.CRC)]
            assert info.date_time == gold.date_time, info.filename
            assert info.external_attr == gold.external_attr, info.filename
            assert info.compress_type == gold.compress_type
            assert info.extra == gold.extra == b""
