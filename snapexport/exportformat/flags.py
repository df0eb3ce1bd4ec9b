"""Which exporter flags an export on disk was written with, read from the export alone.

Most flags show in the export itself: a zip, folder prefixes (``originals/``, ``json/``),
split manifests, ``__exported_thumbnail_name__`` / ``__exported_archive_name__`` present or
not, document files present or not (``--data-only``), ``__crypto__`` in metadata.json.
``-f`` shows in the names: the first documents' names (by pk) are checked against the
public name rule and the filename-format rule (``naming``); the export was written with
``-f`` when some name is not a public name and the format rule explains at least as many
names as the public one (so an export whose files were renamed by hand is not taken for
``-f``, and one whose filename format happens to give public names still is).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapexport.exportformat.containers import Container, Member
from snapexport.exportformat.labels import CORRESPONDENT, DOCUMENT
from snapexport.exportformat.manifest import (
    EXPORTED_ARCHIVE_NAME,
    EXPORTED_FILE_NAME,
    EXPORTED_KEYS,
    EXPORTED_THUMBNAIL_NAME,
    MANIFEST,
    read_manifest,
)
from snapexport.exportformat.naming import (
    PREFIX_FOLDERS,
    DocumentFacts,
    is_format_name,
    is_public_name,
)

SAMPLE = 50  # documents whose names decide -f
_ORIGINALS = PREFIX_FOLDERS["original"] + "/"
_SAMPLED = (json.dumps(DOCUMENT).encode("utf-8"), json.dumps(CORRESPONDENT).encode("utf-8"))


@dataclass(frozen=True, slots=True)
class ExportLayout:
    """The exporter flags an export was written with, as far as its contents tell."""

    zip: bool
    zip_name: str | None
    use_folder_prefix: bool
    split_manifest: bool
    use_filename_format: bool
    no_archive: bool
    no_thumbnail: bool
    data_only: bool
    passphrase: bool


@dataclass(frozen=True, slots=True)
class ExportedDocument:
    """A document record of an export: its pk, fields and ``__exported_*`` names."""

    pk: Any
    fields: dict[str, Any]
    names: dict[str, str]

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> ExportedDocument:
        names = {k: record[k] for k in EXPORTED_KEYS if k in record}
        return cls(record.get("pk"), record.get("fields") or {}, names)

    def facts(self, correspondents: Mapping[Any, str | None]) -> DocumentFacts:
        """What the naming rules need (the correspondent's name from ``correspondents``)."""
        correspondent = self.fields.get("correspondent")
        name = None if correspondent is None else correspondents.get(correspondent) or ""
        return DocumentFacts.of(self.pk, self.fields, correspondent=name, time_zone=None)


def detect_layout(
    container: Container,
    documents: Sequence[ExportedDocument],
    correspondents: Mapping[Any, str | None],
    *,
    split_manifests: Sequence[Member],
    encrypted: bool,
) -> ExportLayout:
    """The flags of the export in ``container``.

    ``documents`` are its document records in pk order (the first ``SAMPLE`` decide
    ``-f``), ``correspondents`` the names of its correspondents by pk, ``split_manifests``
    its split manifests, ``encrypted`` whether metadata.json has ``__crypto__``.
    """
    names = [d.names.get(EXPORTED_FILE_NAME, "") for d in documents]
    archived = [d for d in documents if d.fields.get("archive_filename") is not None]
    zip_path = getattr(container, "path", None)
    return ExportLayout(
        zip=container.is_zip,
        zip_name=Path(zip_path).stem if container.is_zip and zip_path else None,
        use_folder_prefix=any(n.startswith(_ORIGINALS) for n in names)
        or container.has_folder(PREFIX_FOLDERS["split"]),
        split_manifest=bool(split_manifests),
        use_filename_format=_uses_filename_format(documents[:SAMPLE], correspondents),
        no_archive=bool(archived) and not any(EXPORTED_ARCHIVE_NAME in d.names for d in archived),
        no_thumbnail=bool(documents)
        and not any(EXPORTED_THUMBNAIL_NAME in d.names for d in documents),
        data_only=bool(documents) and not any(container.members(n) for n in names if n),
        passphrase=encrypted,
    )


def _uses_filename_format(
    documents: Iterable[ExportedDocument], correspondents: Mapping[Any, str | None]
) -> bool:
    public = formatted = 0
    foreign = False
    for doc in documents:
        name = doc.names.get(EXPORTED_FILE_NAME, "")
        name = name.removeprefix(_ORIGINALS)
        facts = doc.facts(correspondents)
        is_public = is_public_name(name, facts)
        public += is_public
        formatted += is_format_name(name, facts)
        foreign = foreign or not is_public
    return foreign and formatted >= public


def sample_documents(
    container: Container, split_manifests: Sequence[Member]
) -> tuple[list[ExportedDocument], dict[Any, str | None]]:
    """The first ``SAMPLE`` documents of an export (by pk) and its correspondents' names.

    The manifest is streamed (correspondents come first, documents last); with ``-sm``
    the documents come from the first split manifests instead.
    """
    docs: list[ExportedDocument] = []
    correspondents: dict[Any, str | None] = {}
    member = container.members(MANIFEST)[-1]
    for item in read_manifest(member.open, member.name):
        head = item.text[:100]
        if not any(label in head for label in _SAMPLED):
            continue
        record = json.loads(item.text)
        if record.get("model") == CORRESPONDENT:
            correspondents[record.get("pk")] = (record.get("fields") or {}).get("name")
        elif record.get("model") == DOCUMENT:
            docs.append(ExportedDocument.of(record))
            if len(docs) >= SAMPLE:
                break
    if not docs:
        for split in split_manifests[:SAMPLE]:
            with split.open() as f, contextlib.suppress(ValueError):
                for record in json.loads(f.read()):
                    if isinstance(record, dict) and record.get("model") == DOCUMENT:
                        docs.append(ExportedDocument.of(record))
    docs.sort(key=lambda d: pk_order(d.pk))
    return docs[:SAMPLE], correspondents


def pk_order(pk: Any) -> tuple[int, Any]:
    """Sorts integer pks numerically, before any other pks."""
    return (0, pk) if isinstance(pk, int) else (1, str(pk))
