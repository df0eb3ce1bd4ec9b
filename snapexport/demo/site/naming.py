"""The demo's storage naming: its ``generate_filename``.

A small stand-in for paperless's filename formats, with the same observable rules for the
cases the demo uses: a storage path's template, else the ``FILENAME_FORMAT`` setting, else
``{pk:07}{ext}``; version documents take their root's name with ``_v<index>``. Templates
may use ``{{ name }}`` or ``{name}`` placeholders; unknown names render empty, missing
related objects render ``none``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from snapexport.demo.site.models import Document

MIME_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
    "text/plain": ".txt",
    "message/rfc822": ".eml",
}

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}|\{(\w+)\}")


def file_extension(mime_type: str) -> str:
    return MIME_EXTENSIONS.get(mime_type, "")


def _clean(value: str) -> str:
    # A value never introduces folders of its own.
    return value.replace("/", "-").replace("\\", "-").strip()


def template_values(doc: Document, template: str = "{tag_list}") -> dict[str, str]:
    """What a filename template can refer to (tags are only queried when it uses them)."""
    created = doc.created
    added = doc.added
    tags = [tag.name for tag in doc.tags.all()] if "tag_list" in template else []
    return {
        "title": _clean(doc.title),
        "correspondent": _clean(doc.correspondent.name) if doc.correspondent else "none",
        "document_type": _clean(doc.document_type.name) if doc.document_type else "none",
        "owner_username": _clean(doc.owner.username) if doc.owner else "none",
        "created": created.isoformat(),
        "created_year": f"{created.year:04}",
        "created_month": f"{created.month:02}",
        "created_day": f"{created.day:02}",
        "added": added.date().isoformat(),
        "added_year": f"{added.year:04}",
        "added_month": f"{added.month:02}",
        "added_day": f"{added.day:02}",
        "asn": str(doc.archive_serial_number) if doc.archive_serial_number else "none",
        "doc_pk": f"{doc.pk:07}",
        "original_name": PurePosixPath(doc.original_filename or "").stem,
        "tag_list": _clean(",".join(sorted(tags))),
    }


def _render(template: str, values: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        return values.get(match.group(1) or match.group(2), "")

    rendered = _PLACEHOLDER.sub(substitute, template)
    parts = [part.strip() for part in rendered.split("/")]
    return "/".join(part for part in parts if part)


def generate_filename(doc: Document, *, counter: int = 0) -> str:
    """The media-relative name of ``doc``'s original (what paperless's ``-f`` export uses)."""
    base_doc = doc.root_document if doc.root_document_id else doc
    assert base_doc is not None
    template = None
    if base_doc.storage_path_id and base_doc.storage_path is not None:
        template = base_doc.storage_path.path
    elif getattr(settings, "FILENAME_FORMAT", None):
        template = settings.FILENAME_FORMAT
    stem = _render(template, template_values(base_doc, template)) if template else ""
    if not stem:
        stem = f"{base_doc.pk:07}"
    if doc.root_document_id:
        stem += f"_v{doc.version_index or 0}"
    if counter:
        stem += f"_{counter:02}"
    return stem + file_extension(doc.mime_type)
