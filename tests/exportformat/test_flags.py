"""Flag detection on every golden variant the real exporter wrote, through both callers:
verify's sample of the export and the export source's full index."""

from __future__ import annotations

import csv
import json
import shutil
import warnings
import zipfile
from pathlib import Path

import pytest

from snapexport.exportformat.containers import open_container, read_metadata
from snapexport.exportformat.crypto import CRYPTO_KEY
from snapexport.exportformat.flags import (
    SAMPLE,
    ExportedDocument,
    ExportLayout,
    detect_layout,
    sample_documents,
)
from snapexport.exportformat.manifest import EXPORTED_FILE_NAME
from snapexport.source.export import ExportSource
from tests.sitetools import GOLDEN

NONE = dict.fromkeys(
    [
        "zip",
        "use_folder_prefix",
        "split_manifest",
        "use_filename_format",
        "no_archive",
        "no_thumbnail",
        "data_only",
        "passphrase",
    ],
    False,
)
VARIANTS = {
    "plain": {},
    "prefix": {"use_folder_prefix": True},
    "split": {"split_manifest": True},
    "prefix-split": {"use_folder_prefix": True, "split_manifest": True},
    "nothumb": {"no_thumbnail": True},
    "noarchive": {"no_archive": True},
    "dataonly": {"data_only": True},
    "filenameformat": {"use_filename_format": True},
    "passphrase": {"passphrase": True},
    "zip": {"zip": True},
    "zip-prefix-split": {"zip": True, "use_folder_prefix": True, "split_manifest": True},
}


def rebuild(variant: str, into: Path) -> Path:
    """The variant as an export on disk: its JSON byte for byte, every other file empty."""
    folder = GOLDEN / variant
    if variant.startswith("zip"):
        path = into / "export.zip"
        with (
            warnings.catch_warnings(),  # the exporter's own duplicate entries, on purpose
            zipfile.ZipFile(path, "w") as zf,
            open(folder / "zip-entries.tsv", encoding="utf-8") as f,
        ):
            warnings.simplefilter("ignore", UserWarning)
            for row in csv.DictReader(f, delimiter="\t"):
                name = row["name"]
                json_copy = folder / "in-zip" / name
                if name.endswith("/"):
                    zf.writestr(name, b"")
                else:
                    data = json_copy.read_bytes() if json_copy.is_file() else b""
                    zf.writestr(name, data)
        return path
    export = into / variant
    with open(folder / "files.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            target = export / row["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            source = folder / row["path"]
            if source.is_file():
                shutil.copyfile(source, target)
            else:
                target.touch()
    return export


def expected(variant: str, path: Path) -> ExportLayout:
    flags = {**NONE, **VARIANTS[variant]}
    return ExportLayout(zip_name=path.stem if flags["zip"] else None, **flags)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_flags_of_each_golden_variant(variant: str, tmp_path: Path) -> None:
    path = rebuild(variant, tmp_path)
    with open_container(path) as container:
        encrypted = CRYPTO_KEY in read_metadata(container)
        splits = container.split_manifests()
        docs, correspondents = sample_documents(container, splits)
        layout = detect_layout(
            container, docs, correspondents, split_manifests=splits, encrypted=encrypted
        )
    assert len(docs) == SAMPLE
    assert layout == expected(variant, path)
    if variant != "passphrase":  # its passphrase is not kept: the source cannot open it
        source = ExportSource(path)
        with source.open():
            pass
        assert source.layout == layout


def test_renamed_files_are_not_taken_for_filename_format(tmp_path: Path) -> None:
    """A few names that follow neither rule leave the public rule in charge."""
    path = rebuild("plain", tmp_path)
    with open_container(path) as container:
        docs, correspondents = sample_documents(container, [])
        renamed = [
            ExportedDocument(d.pk, d.fields, {**d.names, EXPORTED_FILE_NAME: f"renamed {i}.pdf"})
            if i < 3
            else d
            for i, d in enumerate(docs)
        ]
        layout = detect_layout(
            container, renamed, correspondents, split_manifests=[], encrypted=False
        )
    assert not layout.use_filename_format


def test_format_names_that_look_public_still_mean_filename_format(tmp_path: Path) -> None:
    """-f with a format that gives public names for most documents: still -f."""
    path = rebuild("filenameformat", tmp_path)
    with open_container(path) as container:
        docs, correspondents = sample_documents(container, [])
    public = [
        ExportedDocument(d.pk, {**d.fields, "filename": "x"}, d.names)
        for d in json_docs(GOLDEN / "plain" / "manifest.json")
    ]
    # documents named by their public name, whose stored filename is that same name ...
    same = [
        ExportedDocument(d.pk, {**d.fields, "filename": d.names[EXPORTED_FILE_NAME]}, d.names)
        for d in public[:40]
    ]
    # ... and a few whose -f name is their filename, which is not a public name
    mixed = same + docs[40:SAMPLE]
    with open_container(path) as container:
        layout = detect_layout(
            container, mixed, correspondents, split_manifests=[], encrypted=False
        )
    assert layout.use_filename_format


def json_docs(manifest: Path) -> list[ExportedDocument]:
    records = json.loads(manifest.read_text(encoding="utf-8"))
    docs = [ExportedDocument.of(r) for r in records if r["model"] == "documents.document"]
    return sorted(docs, key=lambda d: d.pk)
