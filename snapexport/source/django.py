"""The generic Django profile: chosen models as ``dumpdata`` writes them, and their files.

Sections are the chosen models in dependency order (``sort_dependencies``), each read
like ``dumpdata`` reads it: the default manager (or the base manager), ordered by primary
key. By default foreign keys are written as natural keys where the target model has them
and content types and permissions are left out: the pairing Django's docs recommend for
dumps that load into a fresh database (``dumpdata --natural-foreign -e contenttypes -e
auth.permission``); ``include_contenttypes=True`` keeps them.

Files: every FileField/ImageField value of the chosen models, read from its storage
(local storages only), plus any extra folders with glob excludes.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core import serializers
from django.db import models, router
from django.db.models import Model, QuerySet

from snapexport.diskset import DiskSet
from snapexport.errors import SourceError
from snapexport.source.base import FileRef
from snapexport.source.bootstrap import DJANGO
from snapexport.source.django_rows import SectionReader, pk_text
from snapexport.source.django_site import SiteSource, relative_to_media

CONTENTTYPE_LABELS = ("contenttypes", "auth.permission")


def _matches(model: type[Model], labels: Sequence[str]) -> bool:
    meta = model._meta
    for label in labels:
        label = label.lower()
        if label in (meta.app_label, meta.label_lower):
            return True
    return False


def _check_labels(labels: Sequence[str]) -> None:
    for label in labels:
        app_label, _, model_name = label.partition(".")
        try:
            config = apps.get_app_config(app_label)
            if model_name:
                config.get_model(model_name)
        except LookupError:
            raise SourceError(f"unknown app or model {label!r}") from None


class DjangoSource(SiteSource):
    """Any Django site, read as ``dumpdata`` reads it."""

    profile = DJANGO

    def __init__(
        self,
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        natural_foreign: bool = True,
        natural_primary: bool = False,
        include_contenttypes: bool = False,
        base_manager: bool = False,
        extra_folders: Sequence[str | Path] = (),
        folder_excludes: Sequence[str] = (),
        batch_size: int = 500,
        using: str = "default",
        db_timeout: float = 600.0,
    ) -> None:
        super().__init__(batch_size=batch_size, using=using, db_timeout=db_timeout)
        _check_labels([*include, *exclude])
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.natural_foreign = natural_foreign
        self.natural_primary = natural_primary
        self.include_contenttypes = include_contenttypes
        self.base_manager = base_manager
        self.extra_folders = tuple(Path(folder) for folder in extra_folders)
        self.folder_excludes = tuple(folder_excludes)
        self.skipped_storages: list[str] = []

    def chosen_models(self) -> list[type[Model]]:
        """The models to read, in dependency order (targets of natural keys first)."""
        excluded = list(self.exclude)
        if not self.include_contenttypes:
            excluded.extend(label for label in CONTENTTYPE_LABELS if label not in self.include)
        by_app: dict[Any, list[type[Model]]] = {}
        for config in apps.get_app_configs():
            for model in config.get_models():
                meta = model._meta
                if meta.proxy or not router.allow_migrate_model(self.using, model):
                    continue
                if self.include and not _matches(model, self.include):
                    continue
                if _matches(model, excluded):
                    continue
                by_app.setdefault(config, []).append(model)
        return list(serializers.sort_dependencies(by_app.items(), allow_cycles=True))

    def build_sections(self) -> list[SectionReader]:
        return [
            SectionReader(
                model._meta.label_lower,
                self._queryset_factory(model),
                batch_size=self.batch_size,
                natural_foreign=self.natural_foreign,
                natural_primary=self.natural_primary,
            )
            for model in self.chosen_models()
        ]

    def _queryset_factory(self, model: type[Model]) -> Callable[[], QuerySet[Any]]:
        manager = model._base_manager if self.base_manager else model._default_manager
        pk_name = model._meta.pk.name

        def make() -> QuerySet[Any]:
            return manager.db_manager(self.using).order_by(pk_name)

        return make

    def site_settings(self) -> dict[str, Any]:
        return {
            "include": list(self.include),
            "exclude": list(self.exclude),
            "natural_foreign": self.natural_foreign,
            "natural_primary": self.natural_primary,
            "include_contenttypes": self.include_contenttypes,
            "skipped_storages": list(self.skipped_storages),
        }

    # --- files -------------------------------------------------------------------------

    def files(self) -> Iterator[FileRef]:
        seen = DiskSet()  # a file two rows share is stored once (on disk: flat memory)
        for model in self.chosen_models():
            label = model._meta.label_lower
            for field in model._meta.local_fields:
                if isinstance(field, models.FileField):
                    yield from self._field_files(model, label, field, seen)
        for folder in self.extra_folders:
            yield from self._folder_files(folder, seen)

    def _field_files(
        self, model: type[Model], label: str, field: models.FileField, seen: DiskSet
    ) -> Iterator[FileRef]:
        storage = field.storage
        manager = model._base_manager.db_manager(self.using)
        rows = (
            manager.exclude(**{field.attname: ""})
            .exclude(**{f"{field.attname}__isnull": True})
            .order_by("pk")
            .values_list("pk", field.attname)
            .iterator(chunk_size=self.batch_size * 4)
        )
        for pk, name in rows:
            try:
                absolute = Path(storage.path(name))
            except NotImplementedError:
                where = f"{label}.{field.name}"
                if where not in self.skipped_storages:
                    self.skipped_storages.append(where)
                return
            location = Path(getattr(storage, "location", "") or ".").name or "storage"
            path = relative_to_media(absolute, f"{location}/{Path(name).as_posix()}")
            if seen.add(path):
                yield FileRef(path, absolute, "file", label, pk_text(pk))

    def _folder_files(self, folder: Path, seen: DiskSet) -> Iterator[FileRef]:
        folder = folder.resolve()
        if not folder.is_dir():
            raise SourceError(f"extra folder {folder} does not exist")
        for root, dirs, names in os.walk(folder):
            dirs.sort()
            base = Path(root)
            for name in sorted(names):
                absolute = base / name
                rel = absolute.relative_to(folder).as_posix()
                if self._excluded(rel):
                    continue
                path = relative_to_media(absolute, f"{folder.name}/{rel}")
                if seen.add(path):
                    yield FileRef(path, absolute, "file")
            dirs[:] = [
                d for d in dirs if not self._excluded((base / d).relative_to(folder).as_posix())
            ]

    def _excluded(self, rel: str) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return any(
            fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(name, pattern)
            for pattern in self.folder_excludes
        )
