"""The paperless profile: the exporter's sections, querysets, naming inputs and files.

Works against a real paperless-ngx site and against the bundled demo (same app label
``documents``, same model and field names). Optional apps are never imported: a section
whose model the registry lacks is left out. Inside real paperless, a document's
``format_name`` comes from paperless's own ``documents.file_handling.generate_filename``
(imported lazily); for the demo from ``snapexport.demo.site.naming``.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet

from snapexport.errors import SourceError
from snapexport.source.base import FileRef
from snapexport.source.bootstrap import PAPERLESS, get_model
from snapexport.source.django_rows import SectionReader, pk_text, within
from snapexport.source.django_site import SiteSource, checksum_algo, relative_to_media
from snapexport.source.medialock import media_lock
from snapexport.source.sections import (
    AUDIT_LOG_SECTION,
    EXCLUDED_USERS,
    PAPERLESS_SECTIONS,
    PaperlessSection,
)

DOCUMENT = "documents.document"
BUNDLE = "documents.sharelinkbundle"

_EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "text/plain": ".txt",
    "message/rfc822": ".eml",
}


def _is_demo(model: type[Model]) -> bool:
    return model.__module__.startswith("snapexport.demo.")


def _naming_function(document_model: type[Model]) -> Callable[[Model], Any] | None:
    """The site's own ``generate_filename``, or None when it cannot be had."""
    if _is_demo(document_model):
        from snapexport.demo.site.naming import generate_filename

        return generate_filename
    try:
        from documents.file_handling import (  # type: ignore[import-not-found]
            generate_filename as paperless_generate_filename,
        )
    except Exception:
        return None
    return paperless_generate_filename  # type: ignore[no-any-return]


def _site_version(document_model: type[Model] | None) -> str | None:
    if document_model is not None and _is_demo(document_model):
        from snapexport.demo.site.naming import __full_version_str__

        return __full_version_str__
    try:
        from paperless.version import (  # type: ignore[import-not-found]
            __full_version_str__ as version,
        )
    except Exception:
        return None
    return str(version)


class DocumentNaming:
    """Per-document inputs of ``format_name``, fetched in bulk per chunk.

    A document's generated name can use its own columns, its correspondent's, document
    type's and owner's names, its storage path's template, its tags' names, its custom
    fields, and for version documents all of that of its root document; plus the
    FILENAME_FORMAT settings. All of these go into the document's fingerprint.
    """

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.generate = _naming_function(model)
        names = {f.name for f in model._meta.get_fields()}
        self.related = [
            path
            for path in (
                "correspondent__name",
                "document_type__name",
                "storage_path__name",
                "storage_path__path",
                "owner__username",
            )
            if path.split("__")[0] in names
        ]
        self.columns = [f.attname for f in model._meta.local_fields]
        self.has_root = "root_document" in names
        self.tags = model._meta.get_field("tags") if "tags" in names else None
        self.custom = get_model("documents.customfieldinstance")

    def salt(self) -> list[Any]:
        return [
            "naming",
            None if self.generate is None else f"{self.generate.__module__}",
            getattr(settings, "FILENAME_FORMAT", None),
            getattr(settings, "FILENAME_FORMAT_REMOVE_NONE", None),
            str(getattr(settings, "TIME_ZONE", "")),
        ]

    def prepare(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        names = {f.name for f in self.model._meta.get_fields()}
        related = [
            n
            for n in ("correspondent", "document_type", "storage_path", "owner", "root_document")
            if n in names
        ]
        return queryset.select_related(*related)

    def extra(self, obj: Model) -> dict[str, Any] | None:
        if self.generate is None:
            return None
        try:
            name = self.generate(obj)
        except Exception as err:
            raise SourceError(f"generate_filename failed for document {obj.pk}: {err}") from err
        return {"format_name": PurePath(name).as_posix()}

    def inputs(self, pks: Sequence[Any]) -> Mapping[Any, Any]:
        """Each document's naming inputs beyond its own row: related names, tags, custom
        fields, and for a version document all of that of its root, own columns included.

        A document's own columns are not fetched again: they are its row's raw values, which
        its fingerprint covers already. The chunk's documents are selected by key range
        where the keys are dense (Django prepares each value of an IN list one by one).
        """
        manager = getattr(self.model, "global_objects", self.model._base_manager)
        chunk = set(pks)
        roots: dict[Any, Any] = {}
        own: dict[Any, list[Any]] = {}
        root_column = ["root_document_id"] if self.has_root else []
        width = len(root_column) + 1
        for row in within(manager.all(), "pk", chunk).values_list(
            "pk", *root_column, *self.related
        ):
            if row[0] in chunk:
                own[row[0]] = [list(row[width:])]
                if self.has_root and row[1] is not None:
                    roots[row[0]] = row[1]
        root_pks = set(roots.values())
        of_root: dict[Any, list[Any]] = {pk: [] for pk in root_pks}
        if root_pks:
            for row in manager.filter(pk__in=root_pks).values_list(
                "pk", *self.related, *self.columns
            ):
                of_root[row[0]].append(list(row[1:]))
        for doc, entry in self._entries(chunk):
            own.setdefault(doc, []).append(entry)
            if doc in of_root:
                of_root[doc].append(entry)
        for doc, entry in self._entries(root_pks - chunk):
            of_root[doc].append(entry)
        return {pk: [own.get(pk, []), of_root[roots[pk]] if pk in roots else None] for pk in pks}

    def _entries(self, docs: set[Any]) -> Iterator[tuple[Any, Any]]:
        """(document pk, entry) for each tag and custom field instance of ``docs``, each
        document's tags in tag order, then its custom field instances in their order."""
        if not docs:
            return
        if self.tags is not None:
            through = self.tags.remote_field.through
            source = through._meta.get_field(self.tags.m2m_field_name()).attname
            target = self.tags.m2m_reverse_field_name()
            tags = (
                within(through._base_manager.all(), source, docs)
                .order_by(source, f"{target}__pk")
                .values_list(source, f"{target}__pk", f"{target}__name")
            )
            for doc, tag_pk, tag_name in tags:
                if doc in docs:
                    yield doc, ("tag", tag_pk, tag_name)
        if self.custom is not None:
            manager_cf = getattr(self.custom, "global_objects", self.custom._base_manager)
            columns = [f.attname for f in self.custom._meta.local_fields]
            custom = (
                within(manager_cf.all(), "document_id", docs)
                .order_by("pk")
                .values_list(
                    "document_id", *columns, "field__name", "field__data_type", "field__extra_data"
                )
            )
            for row in custom:
                if row[0] in docs:
                    yield row[0], ("custom", list(row[1:]))


class PaperlessSource(SiteSource):
    """A paperless-ngx site (or the demo) read as ``document_exporter`` reads it."""

    profile = PAPERLESS

    def __init__(
        self,
        *,
        batch_size: int = 500,
        using: str = "default",
        lock_timeout: float = 600.0,
        db_timeout: float = 600.0,
    ) -> None:
        super().__init__(batch_size=batch_size, using=using, db_timeout=db_timeout)
        self.lock_timeout = lock_timeout

    def audit_log_enabled(self) -> bool:
        return bool(getattr(settings, "AUDIT_LOG_ENABLED", True))

    def section_specs(self) -> list[PaperlessSection]:
        specs = list(PAPERLESS_SECTIONS)
        if self.audit_log_enabled():
            specs.append(AUDIT_LOG_SECTION)
        return specs

    def build_sections(self) -> list[SectionReader]:
        readers = []
        for spec in self.section_specs():
            model = get_model(spec.label)
            if model is None:
                continue
            extras = DocumentNaming(model) if spec.label == DOCUMENT else None
            readers.append(
                SectionReader(
                    spec.label,
                    _queryset_factory(model, spec, self.using),
                    batch_size=self.batch_size,
                    extras=extras,
                )
            )
        return readers

    def site_version(self) -> str | None:
        return _site_version(get_model(DOCUMENT))

    def site_settings(self) -> dict[str, Any]:
        return {
            "AUDIT_LOG_ENABLED": self.audit_log_enabled(),
            "FILENAME_FORMAT": getattr(settings, "FILENAME_FORMAT", None),
        }

    def lock(self) -> contextlib.AbstractContextManager[None]:
        path = getattr(settings, "MEDIA_LOCK", None)
        if path is None and getattr(settings, "MEDIA_ROOT", None):
            path = Path(settings.MEDIA_ROOT) / "media.lock"
        if path is None:
            return contextlib.nullcontext()
        return media_lock(Path(path), self.lock_timeout)

    # --- files -------------------------------------------------------------------------

    def _folders(self) -> dict[str, tuple[Path, str]]:
        """Role -> (absolute folder, its MEDIA_ROOT-relative POSIX path)."""
        media = Path(getattr(settings, "MEDIA_ROOT", "") or ".")
        defaults = {
            "original": ("ORIGINALS_DIR", media / "documents" / "originals"),
            "archive": ("ARCHIVE_DIR", media / "documents" / "archive"),
            "thumbnail": ("THUMBNAIL_DIR", media / "documents" / "thumbnails"),
            "bundle": ("SHARE_LINK_BUNDLE_DIR", media / "documents" / "share_link_bundles"),
        }
        out = {}
        for role, (setting, default) in defaults.items():
            folder = Path(getattr(settings, setting, None) or default)
            fallback = default.relative_to(media).as_posix()
            out[role] = (folder, relative_to_media(folder, fallback))
        return out

    def files(self) -> Iterator[FileRef]:
        folders = self._folders()
        document = get_model(DOCUMENT)
        if document is not None:
            manager = getattr(document, "global_objects", document._base_manager)
            rows = (
                manager.order_by("pk")
                .values_list(
                    "pk",
                    "filename",
                    "archive_filename",
                    "checksum",
                    "archive_checksum",
                    "mime_type",
                )
                .iterator(chunk_size=self.batch_size * 4)
            )
            for pk, filename, archive_filename, checksum, archive_checksum, mime in rows:
                owner = pk_text(pk)
                # Documents from before paperless stored names: '<pk:07><ext>'.
                name = filename or f"{pk:07}{_extension(mime)}"
                yield _ref(folders["original"], name, "original", owner, checksum)
                if archive_filename:
                    yield _ref(
                        folders["archive"], archive_filename, "archive", owner, archive_checksum
                    )
                yield _ref(folders["thumbnail"], f"{pk:07}.webp", "thumbnail", owner, None)
        bundle = get_model(BUNDLE)
        if bundle is not None and "file_path" in {f.name for f in bundle._meta.get_fields()}:
            for pk, file_path in bundle._base_manager.order_by("pk").values_list("pk", "file_path"):
                if not file_path:
                    continue
                folder, rel = folders["bundle"]
                path = Path(file_path)
                if path.is_absolute():
                    try:
                        name = path.relative_to(folder).as_posix()
                    except ValueError:
                        name = path.name
                    yield FileRef(f"{rel}/{name}", path, "bundle", BUNDLE, pk_text(pk))
                else:
                    yield _ref(folders["bundle"], file_path, "bundle", pk_text(pk), None, BUNDLE)


def _ref(
    folder: tuple[Path, str],
    name: str,
    role: str,
    owner_pk: str,
    checksum: str | None,
    owner_model: str = DOCUMENT,
) -> FileRef:
    absolute, rel = folder
    if _POSIX and _plain_name(name):
        # What PurePath would give, without building two paths per file.
        base = str(absolute)
        posix, location = name, f"{base}{'' if base.endswith('/') else '/'}{name}"
    else:
        posix, location = PurePath(name).as_posix(), str(absolute / name)
    return FileRef(
        path=f"{rel}/{posix}",
        location=location,
        role=role,
        owner_model=owner_model,
        owner_pk=owner_pk,
        checksum=checksum or None,
        checksum_algo=checksum_algo(checksum),
    )


_POSIX = os.sep == "/" and os.altsep is None


def _plain_name(name: str) -> bool:
    """A relative POSIX name that ``PurePath`` leaves as it is: no empty or ``.`` parts."""
    return bool(name) and not (
        name.startswith(("/", "./"))
        or name.endswith(("/", "/."))
        or "//" in name
        or "/./" in name
        or name == "."
    )


def _extension(mime_type: str) -> str:
    return _EXTENSIONS.get(mime_type) or mimetypes.guess_extension(mime_type) or ""


def _queryset_factory(
    model: type[Model], spec: PaperlessSection, using: str
) -> Callable[[], QuerySet[Any]]:
    manager = getattr(model, spec.manager, None) or model._default_manager

    def make() -> QuerySet[Any]:
        queryset = manager.db_manager(using).all()
        if spec.exclude_users:
            queryset = queryset.exclude(**{f"{spec.exclude_users}__in": EXCLUDED_USERS})
        if spec.order_by is not None:
            queryset = queryset.order_by(*spec.order_by)
        return queryset

    return make
