"""What both profiles share: one read transaction, the section readers, site facts.

A profile (``paperless.py``, ``django.py``) says which sections exist, through which
querysets, and which files belong to the snapshot; this base turns that into the
``Source`` contract of ``base.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections, transaction

from snapexport.errors import SourceError
from snapexport.source.base import FileRef, RowRef, SerializedRecord, SiteInfo
from snapexport.source.django_rows import SectionReader
from snapexport.source.django_waits import begin_walk, guard_database


class SiteSource:
    """Base of the Django-backed sources; subclasses fill in sections and files."""

    profile = "django"

    def __init__(
        self, *, batch_size: int = 500, using: str = "default", db_timeout: float = 600.0
    ) -> None:
        if batch_size < 1:
            raise SourceError("--batch-size must be at least 1")
        if db_timeout <= 0:
            raise SourceError("--db-timeout must be positive")
        self.batch_size = batch_size
        self.using = using
        self.db_timeout = db_timeout
        self._readers: dict[str, SectionReader] | None = None

    # --- what subclasses provide -------------------------------------------------------

    def build_sections(self) -> list[SectionReader]:
        raise NotImplementedError

    def files(self) -> Iterator[FileRef]:
        raise NotImplementedError

    def site_version(self) -> str | None:
        return None

    def site_settings(self) -> dict[str, Any]:
        return {}

    def lock(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    # --- the contract ------------------------------------------------------------------

    @property
    def readers(self) -> dict[str, SectionReader]:
        if self._readers is None:
            self._readers = {reader.label: reader for reader in self.build_sections()}
        return self._readers

    def reader(self, model: str) -> SectionReader:
        try:
            return self.readers[model]
        except KeyError:
            raise SourceError(f"the site has no section {model!r}") from None

    @contextlib.contextmanager
    def open(self) -> Iterator[None]:
        """The media lock (if any), then one read-only transaction for the whole walk that
        sees one state of the database, and waits for no lock longer than ``db_timeout``."""
        with self.lock(), transaction.atomic(using=self.using):
            begin_walk(connections[self.using], self.db_timeout)
            with guard_database(self, "django_migrations"):
                yield

    def table_of(self, model: str) -> str:
        """The database table a section reads."""
        return str(self.reader(model).model._meta.db_table)

    def info(self) -> SiteInfo:
        return SiteInfo(
            profile=self.profile,
            sections=tuple(self.readers),
            site_version=self.site_version(),
            time_zone=str(settings.TIME_ZONE),
            migrations=self.migrations(),
            settings=self.site_settings(),
        )

    def rows(self, model: str) -> Iterator[RowRef]:
        with guard_database(self, self.table_of(model)):
            yield from self.reader(model).rows()

    def serialize(self, model: str, pks: Sequence[str]) -> Iterator[SerializedRecord]:
        with guard_database(self, self.table_of(model)):
            yield from self.reader(model).serialize(pks)

    # --- helpers -----------------------------------------------------------------------

    def records(self, model: str) -> Iterator[tuple[RowRef, SerializedRecord]]:
        """Every row with its record, in section order (for ``--verify-records``).

        Serializes in batches as rows stream, so memory holds one batch.
        """
        reader = self.reader(model)
        batch: list[RowRef] = []
        for ref in reader.rows():
            batch.append(ref)
            if len(batch) >= self.batch_size:
                yield from _pair(batch, reader)
                batch = []
        if batch:
            yield from _pair(batch, reader)

    def migrations(self) -> dict[str, str]:
        from django.db.migrations.recorder import MigrationRecorder

        recorder = MigrationRecorder(connections[self.using])
        if not recorder.has_table():
            return {}
        latest: dict[str, str] = {}
        for app, name in recorder.applied_migrations():
            if app not in latest or name > latest[app]:
                latest[app] = name
        return dict(sorted(latest.items()))


def _pair(batch: list[RowRef], reader: SectionReader) -> Iterator[tuple[RowRef, SerializedRecord]]:
    records = {record.pk: record for record in reader.serialize([ref.pk for ref in batch])}
    for ref in batch:
        record = records.get(ref.pk)
        if record is None:
            raise SourceError(f"{reader.label} {ref.pk} vanished while being read")
        yield ref, record


def relative_to_media(path: Path, fallback: str) -> str:
    """``path`` relative to MEDIA_ROOT as POSIX, or ``fallback`` when it lies outside."""
    media = getattr(settings, "MEDIA_ROOT", None)
    if media:
        try:
            return path.resolve().relative_to(Path(media).resolve()).as_posix()
        except ValueError:
            pass
    return fallback


def checksum_algo(checksum: str | None) -> str | None:
    """The algorithm of a hex checksum by its length: never assumed from the version."""
    if not checksum:
        return None
    return {64: "sha256", 32: "md5"}.get(len(checksum))
