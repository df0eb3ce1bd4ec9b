"""``materialize()``: one snapshot written out as paperless-ngx 3.0.5's ``document_exporter``.

Order of work (and of zip entries) follows the exporter: every section but documents and
share-link bundles goes into the manifest in the snapshot's section order; then each
document (by id) gets its names, its files (original, thumbnail, archive) and, with ``-sm``,
its split manifest; then the bundles; then metadata.json; the manifest is committed last.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

from snapexport.errors import (
    EXIT_USAGE,
    ExportRequestError,
    MaterializeError,
    SnapexportError,
    os_error_message,
)
from snapexport.exportformat.crypto import CRYPT_FIELDS, PLAINTEXT_NOTICE, FieldCrypto
from snapexport.exportformat.labels import (
    BUNDLE,
    CORRESPONDENT,
    CUSTOM_FIELD_INSTANCE,
    DOCUMENT,
    NOTE,
    WRITTEN_LAST,
)
from snapexport.exportformat.manifest import (
    EXPORTED_ARCHIVE_NAME,
    EXPORTED_BUNDLE_NAME,
    EXPORTED_FILE_NAME,
    EXPORTED_THUMBNAIL_NAME,
    METADATA,
    ManifestWriter,
    append_keys,
    dumps,
    split_manifest,
)
from snapexport.exportformat.naming import (
    DocumentFacts,
    Namer,
    bundle_names,
    check_inside,
    snapshot_time_zone,
)
from snapexport.materialize import generic
from snapexport.materialize.directory_sink import DirectorySink
from snapexport.materialize.options import (
    ExportOptions,
    MaterializeResult,
    MissingDocumentFile,
    Reporter,
)
from snapexport.materialize.sinks import Sink, add_file_named
from snapexport.materialize.target import check_target, interrupted
from snapexport.materialize.view import SnapshotView
from snapexport.materialize.zip_sink import ZipSink
from snapexport.values import MissingFile, StoredFile, StoredRecord

# How far planning runs ahead of writing: file bytes whose reading has started, and
# documents. The bytes bound what the store may hold in memory for files not yet written.
LOOKAHEAD_BYTES = 16 << 20
LOOKAHEAD_DOCUMENTS = 64
PLAN_BATCH = 64  # documents whose files are found with one question to the view


def materialize(
    view: SnapshotView,
    target: Path,
    options: ExportOptions | None = None,
    *,
    reporter: Reporter | None = None,
) -> MaterializeResult:
    """Write ``view`` into ``target`` as ``document_exporter`` would with ``options``.

    Raises ExportRequestError for a bad target or flag combination, MaterializeError when the export
    cannot be written (a directory export is then partial; a zip export leaves nothing).
    A snapshot that lacks files is written with what it has: ``result.missing`` lists the
    rest.
    """
    options = options or ExportOptions()
    target = Path(target)
    check_target(target)
    if options.zip and (options.compare_checksums or options.compare_json):
        raise ExportRequestError(
            "--compare-checksums and --compare-json have no effect when used with --zip"
        )
    tz = _time_zone(view)
    _sections_of(view)  # before the sink exists: a bad snapshot leaves nothing behind
    sink = make_sink(view, target, options, tz)
    return write_export(view, sink, options, target=target, reporter=reporter)


def write_export(
    view: SnapshotView,
    sink: Sink,
    options: ExportOptions | None = None,
    *,
    target: Path = Path("."),
    reporter: Reporter | None = None,
) -> MaterializeResult:
    """Hand ``view``'s export, as ``options`` lay it out, to any ``Sink``.

    ``materialize`` passes a directory or zip sink; ``verify`` passes one that only notes
    each expected entry (name, stored file or bytes) without reading or writing anything.
    ``target`` only appears in the result and in error messages.
    """
    options = options or ExportOptions()
    sections = _sections_of(view)
    if view.meta.profile == "django":
        return generic.materialize_django(view, target, options, sink, sections, reporter)
    return _PaperlessRun(view, target, options, sink, sections, reporter).run()


def _sections_of(view: SnapshotView) -> list[str]:
    sections = list(view.meta.info.get("sections") or ())
    if not sections:
        raise MaterializeError(f"snapshot {view.meta.short_id} lists no sections")
    return sections


def zip_path(view: SnapshotView, target: Path, options: ExportOptions, tz: tzinfo) -> Path:
    """``(target / name).with_suffix(".zip")``; default name export-<local date ISO>."""
    name = options.zip_name or f"export-{view.meta.time.astimezone(tz).date().isoformat()}"
    if "/" in name or os.sep in name or name in ("", ".", ".."):
        raise ExportRequestError(f"--zip-name {name!r} must be a plain file name")
    try:
        return (target / name).with_suffix(".zip")
    except ValueError as err:
        raise ExportRequestError(f"--zip-name {name!r} is not a usable file name") from err


def make_sink(view: SnapshotView, target: Path, options: ExportOptions, tz: tzinfo) -> Sink:
    if options.zip:
        return ZipSink(
            zip_path(view, target, options, tz),
            time_zone=tz,
            compression=options.zip_compression,
            delete=options.delete,
        )
    return DirectorySink(
        target,
        compare_checksums=options.compare_checksums,
        compare_json=options.compare_json,
        delete=options.delete,
    )


def _time_zone(view: SnapshotView) -> tzinfo:
    return snapshot_time_zone(view.meta)


@dataclass(slots=True)
class _PlannedFile:
    """One file of a planned document; ``reader`` is its stream when opened ahead."""

    role: str
    arcname: str
    stored: StoredFile | None
    checksum: str | None
    reader: Iterator[bytes] | None = None
    error: Exception | None = None


@dataclass(slots=True)
class _Planned:
    """A document named and its files found, waiting for its turn to be written."""

    pk: str
    facts_pk: Any
    text: str
    split_manifest: str | None
    files: list[_PlannedFile] = field(default_factory=list)
    started: int = 0  # bytes of its files whose reading has started


@dataclass(slots=True)
class _Tally:
    records: int = 0
    documents: int = 0
    missing: list[MissingDocumentFile] = field(default_factory=list)
    departures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _PaperlessRun:
    """One materialize run of the paperless profile."""

    def __init__(
        self,
        view: SnapshotView,
        target: Path,
        options: ExportOptions,
        sink: Sink,
        sections: list[str],
        reporter: Reporter | None,
    ) -> None:
        self.view = view
        self.target = target
        self.opts = options
        self.sink = sink
        self.sections = sections
        self.reporter = reporter
        self.tally = _Tally()
        self.crypto = FieldCrypto(options.passphrase) if options.passphrase else None
        self.namer = Namer(
            use_filename_format=options.use_filename_format,
            use_folder_prefix=options.use_folder_prefix,
            no_thumbnail=options.no_thumbnail,
            no_archive=options.no_archive,
            split_manifest=options.split_manifest,
        )
        self.correspondents: dict[Any, str] = {}
        self.children: dict[str, dict[Any, list[str]]] = {
            NOTE: defaultdict(list),
            CUSTOM_FIELD_INSTANCE: defaultdict(list),
        }
        self.missing_files: dict[tuple[str | None, str | None, str], MissingFile] = {}
        # Sinks that stream files say which they will read; others (verify's) get no reads.
        self._will_read: Callable[[str], bool] | None = getattr(sink, "will_read", None)
        # A sink whose threads load what they write wants no chunk loaded ahead for it.
        self._ahead = not getattr(sink, "loads_itself", False)

    def run(self) -> MaterializeResult:
        version = self.view.meta.info.get("site_version")
        if not version:
            raise MaterializeError(
                f"snapshot {self.view.meta.short_id} does not record the paperless version"
            )
        self.missing_files = {(m.owner_model, m.owner_pk, m.role): m for m in self.view.missing()}
        try:
            with self.sink:
                with self.sink.manifest() as out:
                    writer = ManifestWriter(out)
                    self._sections(writer)
                    self._documents(writer)
                    self._bundles(writer)
                    writer.close()
                metadata: dict[str, Any] = {"version": version}
                if self.crypto is not None:
                    metadata.update(self.crypto.params())
                self.sink.add_json(METADATA, dumps(metadata).encode("utf-8"))
        except SnapexportError as err:
            raise self._failed(err) from err
        except OSError as err:
            raise self._failed(
                MaterializeError(os_error_message(err, "cannot write the export file"))
            ) from err
        except KeyboardInterrupt:
            raise interrupted(self.target, isinstance(self.sink, ZipSink)) from None
        counts = self.sink.counts
        return MaterializeResult(
            path=self.sink.zip_path if isinstance(self.sink, ZipSink) else self.target,
            records=self.tally.records,
            documents=self.tally.documents,
            files_written=counts.files_written,
            files_skipped=counts.files_skipped,
            files_deleted=counts.files_deleted,
            bytes_written=counts.bytes_written,
            missing=tuple(self.tally.missing),
            departures=tuple(self.tally.departures),
            warnings=tuple(self.tally.warnings),
        )

    def _failed(self, err: SnapexportError) -> SnapexportError:
        # what the caller asked wrongly (exit 2: a passphrase that does not decrypt) is not
        # a failure of the export; a zip export leaves nothing behind to call partial
        if err.exit_code == EXIT_USAGE or isinstance(self.sink, ZipSink):
            return err
        return MaterializeError(f"{err} (the export in {self.target} is partial)")

    def _sections(self, writer: ManifestWriter) -> None:
        sensitive = False
        for model in self.sections:
            if model in WRITTEN_LAST:
                continue
            held_for_split = self.opts.split_manifest and model in self.children
            for rec in self.view.records(model):
                self.tally.records += 1
                if model == CORRESPONDENT:
                    self.correspondents[json.loads(rec.pk)] = _fields(rec.text)["name"]
                if held_for_split:
                    owner = _fields(rec.text).get("document")
                    self.children[model][owner].append(rec.text)
                    continue
                text = rec.text
                if model in CRYPT_FIELDS:
                    sensitive = True
                    if self.crypto is not None:
                        text = self.crypto.encrypt_text(model, text)
                writer.write(text)
        if sensitive and self.crypto is None:
            self.tally.warnings.append(PLAINTEXT_NOTICE)

    def _documents(self, writer: ManifestWriter) -> None:
        """Plan each document (names, files) ahead of writing it, by a bounded margin.

        Documents are written strictly in order; planning runs up to ``LOOKAHEAD_BYTES`` of
        file content (and ``LOOKAHEAD_DOCUMENTS`` documents) ahead and starts reading those
        files' bytes, so the store loads and verifies the next files while this thread
        writes the current one (most files are one chunk: without this each would wait for
        its first chunk).
        """
        if self.reporter is not None:
            self.reporter.phase("documents")
        ahead: deque[_Planned] = deque()
        started = 0  # bytes of the planned files whose reading has started
        for plan in self._plans():
            started += self._start_reads(plan)
            ahead.append(plan)
            while ahead and (started > LOOKAHEAD_BYTES or len(ahead) >= LOOKAHEAD_DOCUMENTS):
                done = ahead.popleft()
                started -= done.started
                self._write_document(done, writer)
        while ahead:
            self._write_document(ahead.popleft(), writer)

    def _plans(self) -> Iterator[_Planned]:
        records = iter(self.view.records(DOCUMENT))
        # The files of a batch of documents are found at once (one catalog query for them
        # and one for their chunks, not two per document): a batch is planned before the
        # next is asked for, so the view holds the locations of one batch at a time.
        while batch := list(itertools.islice(records, PLAN_BATCH)):
            owned: dict[str, dict[str, StoredFile]] = {}
            if not self.opts.data_only:
                owned = self.view.files_of_many(DOCUMENT, [rec.pk for rec in batch])
            for rec in batch:
                yield self._plan(rec, owned.get(rec.pk, {}))

    def _plan(self, rec: StoredRecord, files: dict[str, StoredFile]) -> _Planned:
        self.tally.records += 1
        self.tally.documents += 1
        record = json.loads(rec.text)
        fields = record["fields"]
        facts = self._facts(record, rec.extra or {})
        names = self.namer.assign(facts)
        if names.departure:
            self.tally.departures.append(f"document {rec.pk}: {names.original}: {names.departure}")
        keys = [(EXPORTED_FILE_NAME, names.original)]
        if names.thumbnail:
            keys.append((EXPORTED_THUMBNAIL_NAME, names.thumbnail))
        if names.archive:
            keys.append((EXPORTED_ARCHIVE_NAME, names.archive))
        plan = _Planned(rec.pk, facts.pk, append_keys(rec.text, keys), names.split_manifest)
        if not self.opts.data_only:
            for role, arcname, checksum in (
                ("original", names.original, fields.get("checksum")),
                ("thumbnail", names.thumbnail, None),
                ("archive", names.archive, fields.get("archive_checksum")),
            ):
                if arcname is not None:
                    plan.files.append(_PlannedFile(role, arcname, files.get(role), checksum))
        return plan

    def _start_reads(self, plan: _Planned) -> int:
        """Open the planned files' streams the sink will read; returns their bytes."""
        if self._will_read is None:
            return 0
        for f in plan.files:
            if f.stored is None or not self._will_read(f.arcname):
                continue
            try:
                f.reader = self.view.read(f.stored, ahead=self._ahead)
            except Exception as err:  # raised when this file's turn comes, not before
                f.error = err
            plan.started += f.stored.size
        return plan.started

    def _write_document(self, plan: _Planned, writer: ManifestWriter) -> None:
        for f in plan.files:
            try:
                self._copy(DOCUMENT, plan.pk, f.role, f.arcname, f.stored, f.checksum, f)
            finally:
                if f.reader is not None and hasattr(f.reader, "close"):
                    f.reader.close()  # a file the sink skipped: drop what was read ahead
                f.reader = None
        if plan.split_manifest:
            texts = [plan.text, *self.children[NOTE].get(plan.facts_pk, ())]
            texts += self.children[CUSTOM_FIELD_INSTANCE].get(plan.facts_pk, ())
            self.sink.add_json(plan.split_manifest, split_manifest(texts).encode("utf-8"))
        else:
            writer.write(plan.text)
        if self.reporter is not None:
            self.reporter.advance(items=1)

    def _facts(self, record: dict[str, Any], extra: dict[str, Any]) -> DocumentFacts:
        fields = record["fields"]
        correspondent = fields.get("correspondent")
        name = None
        if correspondent is not None:
            if correspondent not in self.correspondents:
                raise MaterializeError(
                    f"document {record['pk']}: its correspondent {correspondent} is not in "
                    "the snapshot"
                )
            name = self.correspondents[correspondent]
        return DocumentFacts.of(
            record["pk"], fields, correspondent=name, time_zone=self.tz, extra=extra
        )

    @functools.cached_property
    def tz(self) -> tzinfo:
        """The site's time zone: the local date of a document whose ``created`` is a datetime."""
        return _time_zone(self.view)

    def _bundles(self, writer: ManifestWriter) -> None:
        for rec in self.view.records(BUNDLE):
            self.tally.records += 1
            text = rec.text
            record = json.loads(text)
            file_path = record["fields"].get("file_path")
            if file_path:
                portable, arcname = bundle_names(file_path)
                check_inside(arcname, f"share link bundle {rec.pk}")
                self.namer.reserve(arcname)
                record["fields"]["file_path"] = portable
                record[EXPORTED_BUNDLE_NAME] = arcname
                text = dumps(record)
                if not self.opts.data_only:
                    stored = self.view.files_of(BUNDLE, rec.pk).get("bundle")
                    self._copy(BUNDLE, rec.pk, "bundle", arcname, stored, None)
            writer.write(text)

    def _copy(
        self,
        owner_model: str,
        owner_pk: str,
        role: str,
        arcname: str,
        stored: StoredFile | None,
        checksum: str | None,
        planned: _PlannedFile | None = None,
    ) -> None:
        if stored is None:
            known = self.missing_files.get((owner_model, owner_pk, role))
            reason = known.reason if known else "not in the snapshot"
            self.tally.missing.append(
                MissingDocumentFile(owner_model, owner_pk, role, arcname, reason)
            )
            return
        what = "document" if owner_model == DOCUMENT else "share link bundle"
        source = stored.path

        def message(err: BaseException) -> str:
            reason = os_error_message(err) if isinstance(err, OSError) else str(err)
            return (
                f"{what} {owner_pk}: cannot write its {role} {arcname!r} (from {source}): " + reason
            )

        add_file_named(
            self.sink,
            arcname,
            stored,
            lambda: _stream(self.view, stored, planned, self._ahead),
            checksum=checksum or stored.checksum,
            message=message,
        )
        if self.reporter is not None:
            self.reporter.advance(nbytes=stored.size)


def _stream(
    view: SnapshotView, stored: StoredFile, planned: _PlannedFile | None, ahead: bool
) -> Iterator[bytes]:
    """The file's bytes: the stream opened ahead for it (or its error), else a new one."""
    if planned is not None:
        if planned.error is not None:
            err, planned.error = planned.error, None
            raise err
        if planned.reader is not None:
            reader, planned.reader = planned.reader, None
            return reader
    return view.read(stored, ahead=ahead)


def _fields(text: str) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads(text).get("fields", {})
    return fields
