"""Export file names: paperless's public and filename-format names, counters, derived names.

Identical to ``document_exporter`` 3.0.5 except for the two documented departures
(docs/materialize.md): a counter is advanced until the original *and* every derived name are
unused, and a name that would not fit in 255 bytes has its stem (not its extension)
shortened so the extension and every derived suffix fit.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pathvalidate import sanitize_filename

from snapexport.diskset import DiskSet
from snapexport.errors import MaterializeError
from snapexport.exportformat.manifest import SPLIT_SUFFIX
from snapexport.values import SnapshotMeta

MAX_NAME_BYTES = 255
THUMBNAIL_SUFFIX = "-thumbnail.webp"
ARCHIVE_SUFFIX = "-archive.pdf"
# With -p: the folder of each kind of file in the export (bundles always have theirs).
PREFIX_FOLDERS = {
    "original": "originals",
    "thumbnail": "thumbnails",
    "archive": "archive",
    "split": "json",
}
BUNDLE_FOLDER = "share_link_bundles"
# Where paperless keeps each kind of file, relative to MEDIA_ROOT (its default settings).
MEDIA_FOLDERS = {
    "original": "documents/originals",
    "archive": "documents/archive",
    "thumbnail": "documents/thumbnails",
    "bundle": "documents/share_link_bundles",
}


# paperless's parsers' preferred extensions (their supported_mime_types tables); anything
# else falls back to mimetypes.guess_extension, as paperless does.
_PARSER_EXTENSIONS: dict[str, str] = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/tiff": ".tif",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/csv": ".csv",
    "message/rfc822": ".eml",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow": ".ppsx",
    "application/vnd.oasis.opendocument.presentation": ".odp",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.graphics": ".odg",
    "text/rtf": ".rtf",
}


def file_type(mime_type: str | None) -> str:
    """``Document.file_type``: the default extension of a MIME type, or ``""``."""
    if not mime_type:
        return ""
    ext = _PARSER_EXTENSIONS.get(mime_type)
    if ext is not None:
        return ext
    return mimetypes.guess_extension(mime_type) or ""


def created_date(value: Any, time_zone: tzinfo | None) -> str:
    """``created.isoformat()``: a date in 3.x; an older datetime becomes the date in
    ``time_zone`` (as written when None or when it carries no offset)."""
    text = str(value or "")
    if len(text) <= 10:
        return text
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text[:10]
    if moment.tzinfo is None or time_zone is None:
        return moment.date().isoformat()
    return moment.astimezone(time_zone).date().isoformat()


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """What naming needs from one document record."""

    pk: Any
    created: str
    correspondent: str | None  # the correspondent's name
    title: str | None
    mime_type: str | None
    has_archive: bool
    format_name: str | None  # generate_filename(doc, counter=0), for -f
    file_type: str  # extension from the MIME type (or from the record's extra)

    @classmethod
    def of(
        cls,
        pk: Any,
        fields: Mapping[str, Any],
        *,
        correspondent: str | None,
        time_zone: tzinfo | None,
        extra: Mapping[str, Any] | None = None,
    ) -> DocumentFacts:
        """The facts of a document record (its ``fields``), the correspondent's name given.

        ``extra`` is what the source recorded beside the record (``format_name``,
        ``file_type``); ``time_zone`` turns a datetime ``created`` into a local date.
        """
        extra = extra or {}
        mime = fields.get("mime_type")
        return cls(
            pk=pk,
            created=created_date(fields.get("created"), time_zone),
            correspondent=correspondent,
            title=fields.get("title"),
            mime_type=mime,
            has_archive=fields.get("archive_filename") is not None,
            format_name=extra.get("format_name") or fields.get("filename"),
            file_type=extra.get("file_type") or file_type(mime),
        )

    def display(self) -> str:
        """``str(document)``: created date, correspondent, title."""
        res = self.created
        if self.correspondent is not None:
            res += f" {self.correspondent}"
        if self.title:
            res += f" {self.title}"
        return res


@dataclass(frozen=True, slots=True)
class DocumentNames:
    """One document's arcnames in the export (relative POSIX paths)."""

    original: str
    thumbnail: str | None
    archive: str | None
    split_manifest: str | None
    departure: str | None = None  # why the name differs from the exporter's, if it does


def _fits(name: str) -> bool:
    return len(name.encode("utf-8")) <= MAX_NAME_BYTES


def _truncate_bytes(text: str, limit: int) -> str:
    return text.encode("utf-8")[: max(limit, 0)].decode("utf-8", "ignore")


def public_name(doc: DocumentFacts, counter: int, suffixes: Sequence[str] = ()) -> tuple[str, bool]:
    """``str(doc)`` + counter + extension, sanitized; and whether it had to be shortened."""
    counter_str = f"_{counter:02}" if counter else ""
    ext = doc.file_type
    display = doc.display()
    raw = display + counter_str + ext
    name = sanitize_filename(raw, replacement_text="-")
    if _fits(raw) and _all_fit(name, suffixes):
        return name, False
    stem = sanitize_filename(display, replacement_text="-")
    return _shorten(stem, counter_str, ext, suffixes), True


def format_name(doc: DocumentFacts, counter: int, suffixes: Sequence[str] = ()) -> tuple[str, bool]:
    """``generate_filename(doc, counter)`` (``-f``); and whether it had to be shortened."""
    counter_str = f"_{counter:02}" if counter else ""
    ext = doc.file_type
    name0 = doc.format_name or ""
    stem0 = name0[: -len(ext)] if ext and name0.endswith(ext) else name0
    path = PurePosixPath(stem0 + counter_str + ext)
    parent, last = path.parent, path.name
    if _all_fit(last, suffixes):
        return path.as_posix(), False
    stem = last[: -len(ext)] if ext and last.endswith(ext) else last
    return (parent / _shorten(stem, counter_str, ext, suffixes)).as_posix(), True


def is_public_name(name: str, doc: DocumentFacts) -> bool:
    """Whether ``name`` (without folder prefix) is ``doc``'s public name for some counter."""
    return any(public_name(doc, c)[0] == name for c in _counters(name, doc.file_type))


def is_format_name(name: str, doc: DocumentFacts) -> bool:
    """Whether ``name`` (without folder prefix) is ``doc``'s ``-f`` name for some counter."""
    if not doc.format_name:
        return False
    return any(format_name(doc, c)[0] == name for c in _counters(name, doc.file_type))


def strip_counter(name: str, ext: str) -> tuple[str, int] | None:
    """``name`` without the exporter's ``_NN`` counter before ``ext``, and the counter;
    None when it carries none."""
    match = re.fullmatch(r"(.*)_(\d{2,})" + re.escape(ext), name, re.DOTALL)
    return (match.group(1) + ext, int(match.group(2))) if match else None


def _counters(name: str, ext: str) -> list[int]:
    """0, and the counter ``name`` carries before its extension if it carries one."""
    stripped = strip_counter(name, ext)
    return [0, stripped[1]] if stripped else [0]


def _all_fit(name: str, suffixes: Sequence[str]) -> bool:
    stem = PurePosixPath(name).stem
    return _fits(name) and all(_fits(stem + s) for s in suffixes)


def _shorten(stem: str, counter_str: str, ext: str, suffixes: Sequence[str]) -> str:
    """Departure 2: cut the stem so extension and every derived suffix fit 255 bytes."""
    longest = max([len(ext.encode("utf-8")), *(len(s) for s in suffixes)])
    budget = MAX_NAME_BYTES - longest - len(counter_str)
    short = _truncate_bytes(stem, budget).rstrip(" .")
    return sanitize_filename(short + counter_str + ext, replacement_text="-")


class Namer:
    """Assigns every document of one run its names, in document order."""

    def __init__(
        self,
        *,
        use_filename_format: bool,
        use_folder_prefix: bool,
        no_thumbnail: bool,
        no_archive: bool,
        split_manifest: bool,
        in_memory: bool = False,
    ) -> None:
        """``in_memory`` keeps the taken names in Python sets: for naming a handful of
        documents (one alone, for the document index), where two on-disk sets would cost
        more than the naming."""
        self._format = use_filename_format
        self._prefix = use_folder_prefix
        self._no_thumbnail = no_thumbnail
        self._no_archive = no_archive
        self._split = split_manifest
        # The exporter's own uniqueness set (base names), and every arcname handed out so
        # far: on disk, so memory stays flat over a whole site.
        self._bases: DiskSet | set[str] = set() if in_memory else DiskSet()
        self._used: DiskSet | set[str] = set() if in_memory else DiskSet()

    def reserve(self, arcname: str) -> None:
        """Mark a name as taken (bundles, metadata, manifest)."""
        self._used.add(arcname)

    def assign(self, doc: DocumentFacts) -> DocumentNames:
        suffixes = self._derived_suffixes(doc)
        counter = 0
        collided = False
        while True:
            base, shortened = self._base_name(doc, counter, suffixes)
            names = self._targets(base, doc)
            arcnames = [n for n in (names.original, names.thumbnail, names.archive) if n]
            if names.split_manifest:
                arcnames.append(names.split_manifest)
            if base not in self._bases:
                if not any(a in self._used for a in arcnames):
                    break
                collided = True  # the exporter would stop here and lose a file
            counter += 1
        self._bases.add(base)
        self._used.update(arcnames)
        for arcname in arcnames:
            check_inside(arcname, f"document {doc.pk}")
        departure = None
        if collided:
            departure = "counter advanced: a derived name was already used by another document"
        if shortened:
            departure = (departure + "; " if departure else "") + "stem shortened to fit 255 bytes"
        if departure is None:
            return names
        return DocumentNames(
            names.original, names.thumbnail, names.archive, names.split_manifest, departure
        )

    def _derived_suffixes(self, doc: DocumentFacts) -> list[str]:
        suffixes = []
        if not self._no_thumbnail:
            suffixes.append(THUMBNAIL_SUFFIX)
        if not self._no_archive and doc.has_archive:
            suffixes.append(ARCHIVE_SUFFIX)
        if self._split:
            suffixes.append(SPLIT_SUFFIX)
        return suffixes

    def _base_name(self, doc: DocumentFacts, counter: int, suffixes: list[str]) -> tuple[str, bool]:
        """The exporter's base name for ``counter``, and whether it had to be shortened."""
        if self._format and doc.format_name:
            return format_name(doc, counter, suffixes)
        return public_name(doc, counter, suffixes)

    def _targets(self, base: str, doc: DocumentFacts) -> DocumentNames:
        path = PurePosixPath(base)
        stem, parent = path.stem, path.parent

        def placed(folder: str, name: PurePosixPath) -> str:
            return (PurePosixPath(folder) / name).as_posix() if self._prefix else name.as_posix()

        original = placed(PREFIX_FOLDERS["original"], path)
        thumbnail = None
        if not self._no_thumbnail:
            thumbnail = placed(PREFIX_FOLDERS["thumbnail"], parent / (stem + THUMBNAIL_SUFFIX))
        archive = None
        if not self._no_archive and doc.has_archive:
            archive = placed(PREFIX_FOLDERS["archive"], parent / (stem + ARCHIVE_SUFFIX))
        split = None
        if self._split:
            split = placed(PREFIX_FOLDERS["split"], parent / (stem + SPLIT_SUFFIX))
        return DocumentNames(original, thumbnail, archive, split)


def bundle_names(file_path: str) -> tuple[str, str]:
    """A share-link bundle's (portable file_path, arcname), as the exporter rewrites them."""
    stored = PurePosixPath(file_path)
    portable = PurePosixPath(stored.name) if stored.is_absolute() else stored
    return portable.as_posix(), (PurePosixPath(BUNDLE_FOLDER) / portable).as_posix()


def check_inside(arcname: str, owner: str) -> None:
    """Refuse names that would land outside TARGET (``owner`` names the record)."""
    path = PurePosixPath(arcname)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise MaterializeError(
            f"{owner}: export name {arcname!r} would land outside the target folder"
        )


def original_media_name(pk: Any, filename: str | None, mime_type: str | None) -> str:
    """An original's name under the originals folder: ``filename``, else ``<pk:07><ext>``
    (documents from before paperless stored names)."""
    return filename or f"{_pk_text(pk)}{file_type(mime_type)}"


def thumbnail_media_name(pk: Any) -> str:
    """A thumbnail's name under the thumbnails folder."""
    return f"{_pk_text(pk)}.webp"


def _pk_text(pk: Any) -> str:
    return f"{pk:07}" if isinstance(pk, int) else str(pk)


def snapshot_time_zone(meta: SnapshotMeta) -> tzinfo:
    """The site's time zone the snapshot recorded (export names use its local dates)."""
    name = meta.info.get("time_zone") or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise MaterializeError(f"unknown time zone {name!r} in snapshot") from err
