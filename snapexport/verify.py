"""Does an export on disk (folder or zip) still match the snapshot it was made from?

``compare_export`` detects the export's flags, then runs materialize's own exporter
(``write_export``) into a sink that writes nothing: each file the export should hold is
compared, as it is announced, with the export's file of that name (size, then content), and
each manifest record with the export's record in the same place (by ``(model, pk)``, parsed).
Afterwards every name in the export that was not announced is reported as extra.

Cost and memory:

- file contents are checked by hashing the export's file with the store's id function
  (``store.ids``, keyed when the store is) and comparing with the blob id: each export file
  is read once, the store's packs are not read at all. A store without such a function
  falls back to streaming the blob and comparing SHA-256 (reads both sides);
- records are compared by bytes first (materialize writes the stored texts), parsed only
  when the bytes differ; the export's manifest is streamed record by record. Records out
  of place wait in a dictionary, so memory grows with the differences, not the export;
- expected names wait in a temporary SQLite file for the extra-file check.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from snapexport.errors import UsageError
from snapexport.exportformat.containers import (
    Container,
    ContainerError,
    Member,
    open_container,
    read_metadata,
)
from snapexport.exportformat.crypto import CRYPT_FIELDS, CRYPTO_KEY, FieldCrypto, export_crypto
from snapexport.exportformat.flags import detect_layout, sample_documents
from snapexport.exportformat.manifest import (
    MANIFEST,
    METADATA,
    READ_BLOCK,
    ManifestError,
    ManifestRecord,
    ManifestSplitter,
    read_manifest,
)
from snapexport.materialize.exporter import write_export
from snapexport.materialize.options import ExportOptions, MaterializeResult
from snapexport.materialize.sinks import Chunks, SinkCounts
from snapexport.materialize.view import SnapshotView
from snapexport.values import SnapshotMeta, StoredFile

MAX_LISTED = 1000  # differences kept for the report; the rest are only counted


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the export differs from the snapshot."""

    kind: str  # 'missing' | 'extra' | 'different'
    what: str  # 'file' | 'record'
    name: str  # the file's name in the export, or 'model pk'
    detail: str = ""

    @property
    def mark(self) -> str:
        return {"missing": "-", "extra": "+"}.get(self.kind, "M")

    def describe(self) -> str:
        text = f"{self.kind} {self.what} {self.name}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass(slots=True)
class ExportComparison:
    """The outcome of ``compare_export``."""

    snapshot: SnapshotMeta
    path: Path
    flags: ExportOptions
    differences: list[Difference] = field(default_factory=list)
    unlisted: int = 0  # differences beyond MAX_LISTED, only counted
    files_checked: int = 0
    bytes_hashed: int = 0
    records_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences and not self.unlisted

    def add(self, diff: Difference) -> None:
        if len(self.differences) < MAX_LISTED:
            self.differences.append(diff)
        else:
            self.unlisted += 1

    def flag_words(self) -> list[str]:
        return _flag_words(self.flags)

    def render(self) -> Iterator[str]:
        flags = " ".join(self.flag_words()) or "no flags"
        yield f"comparing snapshot {self.snapshot.short_id} with {self.path} ({flags})"
        for d in self.differences:
            yield f"{d.mark}  {d.describe()}"
        if self.unlisted:
            yield f"   ... and {self.unlisted} more differences"
        for note in self.notes:
            yield f"note: {note}"
        total = len(self.differences) + self.unlisted
        verdict = "identical" if self.identical else f"{total} difference(s)"
        yield (
            f"{self.files_checked} files checked ({self.bytes_hashed / 1e6:.1f} MB hashed),"
            f" {self.records_checked} records checked: {verdict}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot.id,
            "path": str(self.path),
            "identical": self.identical,
            "flags": self.flag_words(),
            "files_checked": self.files_checked,
            "bytes_hashed": self.bytes_hashed,
            "records_checked": self.records_checked,
            "differences": [
                {"kind": d.kind, "what": d.what, "name": d.name, "detail": d.detail}
                for d in self.differences
            ],
            "unlisted": self.unlisted,
            "notes": list(self.notes),
        }


def compare_export(
    store: Any,
    spec: str,
    path: Path,
    *,
    passphrase: str | None = None,
    tag: str | None = None,
) -> ExportComparison:
    """Compare the export at ``path`` with snapshot ``spec`` (id, prefix, latest, latest~N).

    Raises UsageError when ``path`` is not an export, when the export is encrypted and no
    (or a wrong) passphrase is given, or when the snapshot does not exist.
    """
    from snapexport.snapshots import open_view

    view = open_view(store, spec, tag=tag)
    path = Path(path)
    with _opened(path) as container:
        try:
            metadata = read_metadata(container)
        except ContainerError as err:
            raise UsageError(f"{path}: {err}") from err
        crypto = export_crypto(metadata, passphrase, path)
        flags = detect_flags(view, container, crypto is not None)
        report = ExportComparison(view.meta, path, flags)
        with _Names() as names:
            matcher = _Matcher(report, crypto)
            sink = _CompareSink(store, view, container, report, matcher, names, metadata)
            plan = replace(flags, passphrase=None)  # compare plain values: decrypt the export
            result = write_export(view, sink, plan, target=path)
            matcher.finish()
            _extras(container, names, report, result)
    return report


# -- the export's container and metadata -------------------------------------------------


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Container]:
    try:
        with open_container(path) as container:
            yield container
    except ContainerError as err:
        raise UsageError(str(err)) from err


def _manifest_records(member: Member) -> Iterator[bytes]:
    """The export's manifest records as texts, streamed."""
    try:
        for record in read_manifest(member.open, member.name):
            yield record.text
    except ManifestError as err:
        raise UsageError(str(err)) from err


# -- detecting the flags --------------------------------------------------------------------


def _flag_words(o: ExportOptions) -> list[str]:
    pairs = [
        (o.zip, "--zip"),
        (o.use_folder_prefix, "--use-folder-prefix"),
        (o.split_manifest, "--split-manifest"),
        (o.use_filename_format, "--use-filename-format"),
        (o.no_archive, "--no-archive"),
        (o.no_thumbnail, "--no-thumbnail"),
        (o.data_only, "--data-only"),
        (bool(o.passphrase), "--passphrase"),
    ]
    return [word for on, word in pairs if on]


def detect_flags(view: SnapshotView, container: Container, encrypted: bool) -> ExportOptions:
    """The exporter flags the export in ``container`` was written with, as options to
    plan the same export from the snapshot (``exportformat.flags`` reads them)."""
    if view.meta.profile == "django":
        first = next(iter(view.files()), None)
        data_only = first is not None and not container.members(first.path)
        return ExportOptions(zip=container.is_zip, data_only=data_only)
    splits = container.split_manifests()
    try:
        docs, correspondents = sample_documents(container, splits)
    except ManifestError as err:
        raise UsageError(str(err)) from err
    layout = detect_layout(
        container, docs, correspondents, split_manifests=splits, encrypted=encrypted
    )
    return ExportOptions(
        zip=layout.zip,
        use_folder_prefix=layout.use_folder_prefix,
        split_manifest=layout.split_manifest,
        use_filename_format=layout.use_filename_format,
        no_archive=layout.no_archive,
        no_thumbnail=layout.no_thumbnail,
        data_only=layout.data_only,
        passphrase="(given)" if layout.passphrase else None,
    )


class _NullSink:
    """The parts of a Sink that do nothing."""

    def __init__(self) -> None:
        self.counts = SinkCounts()

    def __enter__(self) -> _NullSink:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        return None


class _Writer:
    """A write-only binary stream that hands every write to a callback."""

    def __init__(self, take: Callable[[bytes], None]) -> None:
        self._take = take

    def write(self, data: bytes) -> int:
        self._take(bytes(data))
        return len(data)


# -- comparing ----------------------------------------------------------------------------


class _Names:
    """Names the export should hold, in a temporary SQLite file (not in memory)."""

    def __enter__(self) -> _Names:
        self._dir = tempfile.TemporaryDirectory(prefix="snapexport-verify-")
        self.conn = sqlite3.connect(os.path.join(self._dir.name, "names.sqlite"))
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("CREATE TABLE names (name TEXT PRIMARY KEY) WITHOUT ROWID")
        self._batch: list[tuple[str]] = []
        return self

    def add(self, name: str) -> None:
        self._batch.append((name,))
        if len(self._batch) >= 1000:
            self.flush()

    def flush(self) -> None:
        if self._batch:
            self.conn.executemany("INSERT OR IGNORE INTO names VALUES (?)", self._batch)
            self._batch = []

    def unknown(self, names: list[str]) -> list[str]:
        """Those of ``names`` not expected."""
        self.flush()
        marks = ",".join("?" * len(names))
        known = {
            r[0]
            for r in self.conn.execute(f"SELECT name FROM names WHERE name IN ({marks})", names)
        }
        return [n for n in names if n not in known]

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
        self._dir.cleanup()


class _Matcher:
    """Pairs expected and actual records by ``(model, pk)`` and reports what differs."""

    def __init__(self, report: ExportComparison, crypto: FieldCrypto | None) -> None:
        self.report = report
        self.crypto = crypto
        self.expected: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.actual: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def pair(self, exp: bytes | None, act: bytes | None, where: str) -> None:
        if exp is not None and exp == act:
            self.report.records_checked += 1
            return
        e = self._parse(exp, where) if exp is not None else None
        a = self._parse(act, where, decrypt=True) if act is not None else None
        if e is not None and a is not None and e[0] == a[0]:
            self._compare(e[0], e[1], a[1])
            return
        if e is not None:
            other = self.actual.pop(e[0], None)
            if other is not None:
                self._compare(e[0], e[1], other[1])
            else:
                self.expected[e[0]] = (where, e[1])
        if a is not None:
            other = self.expected.pop(a[0], None)
            if other is not None:
                self._compare(a[0], other[1], a[1])
            else:
                self.actual[a[0]] = (where, a[1])

    def pair_lists(self, exp: list[Any], act: list[Any], where: str) -> None:
        for e, a in itertools.zip_longest(exp, act):
            self.pair(
                None if e is None else _dumps(e),
                None if a is None else _dumps(a),
                where,
            )

    def finish(self) -> None:
        for (model, pk), (where, _) in sorted(self.expected.items()):
            self.report.add(Difference("missing", "record", f"{model} {pk}", f"in {where}"))
        for (model, pk), (where, _) in sorted(self.actual.items()):
            self.report.add(Difference("extra", "record", f"{model} {pk}", f"in {where}"))
        self.expected.clear()
        self.actual.clear()

    def _parse(
        self, text: bytes, where: str, *, decrypt: bool = False
    ) -> tuple[tuple[str, str], dict[str, Any]]:
        try:
            record = json.loads(text)
        except ValueError as err:
            raise UsageError(f"{where}: a record is not valid JSON ({err})") from err
        if not isinstance(record, dict):
            record = {"model": "?", "pk": None, "value": record}
        model = str(record.get("model", "?"))
        if decrypt and self.crypto is not None and model in CRYPT_FIELDS:
            fields = record.get("fields") or {}
            for name in CRYPT_FIELDS[model]:
                if fields.get(name):
                    fields[name] = self.crypto.decrypt(fields[name])
        return (model, json.dumps(record.get("pk"))), record

    def _compare(self, key: tuple[str, str], exp: dict[str, Any], act: dict[str, Any]) -> None:
        self.report.records_checked += 1
        if exp == act:
            return
        changes = []
        for name in dict.fromkeys([*exp, *act]):
            if name == "fields":
                continue
            if exp.get(name) != act.get(name):
                changes.append(_change(name, exp.get(name), act.get(name)))
        ef, af = exp.get("fields") or {}, act.get("fields") or {}
        for name in dict.fromkeys([*ef, *af]):
            if ef.get(name) != af.get(name):
                changes.append(_change(name, ef.get(name), af.get(name)))
        self.report.add(Difference("different", "record", f"{key[0]} {key[1]}", "; ".join(changes)))


def _change(name: str, snapshot_value: Any, export_value: Any) -> str:
    return f"{name}: {_short(snapshot_value)} in the snapshot, {_short(export_value)} in the export"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + '..."'


def _dumps(record: Any) -> bytes:
    return json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8")


def id_hasher(store: Any) -> Any:
    """A fresh hasher of the store's blob ids (keyed when the store is), or None.

    A blob's id is the store's id function over its whole content (a one-chunk blob's id
    is its chunk's id, which is the same thing), so hashing an export file with it gives
    the blob id the file should have.
    """
    hasher_of = getattr(getattr(store, "ids", None), "hasher", None)
    return hasher_of() if callable(hasher_of) else None


class _CompareSink(_NullSink):
    """Receives the export materialize would write and compares each part with the disk's."""

    def __init__(
        self,
        store: Any,
        view: SnapshotView,
        container: Container,
        report: ExportComparison,
        matcher: _Matcher,
        names: _Names,
        metadata: dict[str, Any],
    ) -> None:
        super().__init__()
        self.store = store
        self.view = view
        self.container = container
        self.report = report
        self.matcher = matcher
        self.names = names
        self.metadata = metadata

    def add_file(
        self, arcname: str, stored: StoredFile, chunks: Chunks, *, checksum: str | None
    ) -> None:
        self.names.add(arcname)
        self.report.files_checked += 1
        member = self._member(arcname)
        if member is None:
            self.report.add(Difference("missing", "file", arcname, f"{stored.size} bytes"))
            return
        if member.size != stored.size:
            self.report.add(
                Difference(
                    "different",
                    "file",
                    arcname,
                    f"{member.size} bytes in the export, {stored.size} in the snapshot",
                )
            )
            return
        if not self._same_content(member, stored, chunks):
            self.report.add(Difference("different", "file", arcname, "content differs (same size)"))

    def _member(self, arcname: str) -> Member | None:
        members = self.container.members(arcname)
        if len(members) > 1:
            self.report.add(
                Difference("extra", "file", arcname, f"{len(members)} zip entries with this name")
            )
        return members[-1] if members else None

    def _same_content(self, member: Member, stored: StoredFile, chunks: Chunks) -> bool:
        hasher = id_hasher(self.store)
        if hasher is not None:
            self._stream(member, hasher.update)
            return bool(hasher.digest() == stored.blob)
        # No id function to hash with: compare SHA-256 of both sides (reads the store too).
        mine, theirs = hashlib.sha256(), hashlib.sha256()
        self._stream(member, mine.update)
        for piece in chunks():
            theirs.update(piece)
        return mine.digest() == theirs.digest()

    def _stream(self, member: Member, update: Callable[[bytes], object]) -> None:
        with member.open() as f:
            while block := f.read(READ_BLOCK):
                update(block)
                self.report.bytes_hashed += len(block)

    def add_json(self, arcname: str, data: bytes) -> None:
        self.names.add(arcname)
        member = self._member(arcname)
        if member is None:
            self.report.add(Difference("missing", "file", arcname))
            if arcname != METADATA:
                self.matcher.pair_lists(json.loads(data), [], arcname)
            return
        with member.open() as f:
            raw = f.read()
        try:
            actual = json.loads(raw)
        except ValueError as err:
            self.report.add(Difference("different", "file", arcname, f"not valid JSON ({err})"))
            return
        if arcname == METADATA:
            self._metadata(json.loads(data), actual)
        elif not isinstance(actual, list):
            self.report.add(Difference("different", "file", arcname, "not a list of records"))
        else:
            self.matcher.pair_lists(json.loads(data), actual, arcname)

    def _metadata(self, expected: dict[str, Any], actual: Any) -> None:
        if not isinstance(actual, dict):
            self.report.add(Difference("different", "file", METADATA, "not a JSON object"))
            return
        actual = {k: v for k, v in actual.items() if k != CRYPTO_KEY}
        for key in dict.fromkeys([*expected, *actual]):
            if expected.get(key) != actual.get(key):
                self.report.add(
                    Difference(
                        "different",
                        "file",
                        METADATA,
                        _change(key, expected.get(key), actual.get(key)),
                    )
                )

    @contextlib.contextmanager
    def manifest(self) -> Iterator[BinaryIO]:
        self.names.add(MANIFEST)
        splitter = ManifestSplitter()
        actual = _manifest_records(self.container.members(MANIFEST)[-1])

        def take(records: list[ManifestRecord]) -> None:
            for record in records:
                self.matcher.pair(record.text, next(actual, None), MANIFEST)

        yield _Writer(lambda data: take(splitter.feed(data)))  # type: ignore[misc]
        take(splitter.close())
        for rest in actual:
            self.matcher.pair(None, rest, MANIFEST)


def _extras(
    container: Container, names: _Names, report: ExportComparison, result: MaterializeResult
) -> None:
    """Every file in the export that the snapshot's export would not hold."""
    lacking = {m.name: m.reason for m in result.missing}
    for batch in _batches(container.names(), 500):
        for name in names.unknown(batch):
            if name in lacking:
                report.add(
                    Difference("extra", "file", name, f"the snapshot lacks it: {lacking[name]}")
                )
            else:
                report.add(Difference("extra", "file", name))
    if lacking:
        report.notes.append(
            f"the snapshot is incomplete: {len(lacking)} file(s) could not be compared"
        )


def _batches(items: Iterator[str], n: int) -> Iterator[list[str]]:
    while batch := list(itertools.islice(items, n)):
        yield batch


__all__ = ["Difference", "ExportComparison", "compare_export", "detect_flags"]
