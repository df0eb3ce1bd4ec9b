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
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC
from pathlib import Path
from typing import Any, BinaryIO

from snapexport.errors import RequestError, SnapexportError
from snapexport.materialize.crypto import CRYPT_FIELDS, CRYPTO_KEY, FieldCrypto
from snapexport.materialize.encoding import EXPORTED_KEYS
from snapexport.materialize.exporter import write_export
from snapexport.materialize.options import ExportOptions, MaterializeResult
from snapexport.materialize.sinks import Chunks, SinkCounts
from snapexport.materialize.view import SnapshotView
from snapexport.source.export_container import DirectoryContainer, Member, ZipContainer
from snapexport.values import MissingFile, SnapshotMeta, StoredFile, StoredRecord

DOCUMENT = "documents.document"
CORRESPONDENT = "documents.correspondent"
MANIFEST = "manifest.json"
METADATA = "metadata.json"
SAMPLE = 50  # documents looked at to detect the flags
MAX_LISTED = 1000  # differences kept for the report; the rest are only counted
_READ = 1 << 20
_DOC_PREFIX = b'{\n  "model": "documents.document"'

Container = DirectoryContainer | ZipContainer


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

    Raises RequestError when ``path`` is not an export, when the export is encrypted and no
    (or a wrong) passphrase is given, or when the snapshot does not exist.
    """
    from snapexport.snapshots import open_view

    view = open_view(store, spec, tag=tag)
    path = Path(path)
    with _open_container(path) as container:
        metadata = _read_metadata(container, path)
        crypto = None
        if CRYPTO_KEY in metadata:
            if not passphrase:
                raise RequestError(
                    f"{path}: this export's sensitive fields are encrypted (metadata.json has"
                    " __crypto__): give --passphrase"
                )
            crypto = FieldCrypto.from_metadata(passphrase, metadata)
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
def _open_container(path: Path) -> Iterator[Container]:
    if path.is_dir():
        container: Container = DirectoryContainer(path)
    elif path.is_file():
        if not zipfile.is_zipfile(path):
            raise RequestError(f"{path} is neither an export folder nor a zip file")
        container = ZipContainer(path, UTC)
    else:
        raise RequestError(f"{path}: no such file or folder")
    try:
        container.__enter__()
    except (OSError, zipfile.BadZipFile) as err:
        raise RequestError(f"{path}: not a readable export ({err})") from err
    try:
        if not container.members(MANIFEST):
            raise RequestError(f"{path}: no manifest.json, not an export")
        yield container
    finally:
        container.__exit__(None, None, None)


def _read_metadata(container: Container, path: Path) -> dict[str, Any]:
    members = container.members(METADATA)
    if not members:
        return {}
    try:
        with members[-1].open() as f:
            data = json.loads(f.read())
    except (OSError, ValueError) as err:
        raise RequestError(f"{path}: metadata.json is not readable JSON ({err})") from err
    return data if isinstance(data, dict) else {}


# -- the manifest's framing -----------------------------------------------------------------


class _Framing:
    """Splits ``[`` + records joined by ``,\\n`` + ``\\n]`` into record texts, fed in pieces.

    The exporter writes each record with ``indent=2``: inside a record every line is
    indented, so an unindented ``}`` ends one. ``bad`` turns True on anything else.
    """

    def __init__(self) -> None:
        self._buf = b""
        self._lines: list[bytes] = []
        self._state = "start"  # start | record | between | end
        self.bad = False

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while not self.bad:
            cut = self._buf.find(b"\n")
            if cut < 0:
                break
            line, self._buf = self._buf[:cut], self._buf[cut + 1 :]
            self._line(line, out)
        return out

    def close(self) -> list[bytes]:
        out: list[bytes] = []
        if self._buf and not self.bad:
            line, self._buf = self._buf, b""
            self._line(line, out)
        if self._state != "end":
            self.bad = True
        return out

    def _line(self, line: bytes, out: list[bytes]) -> None:
        state = self._state
        if state == "start":
            if line == b"[":
                self._state = "empty"
            elif line == b"[{":
                self._lines = [b"{"]
                self._state = "record"
            else:
                self.bad = True
        elif state == "empty":
            self._state = "end" if line == b"]" else "bad"
            self.bad = self._state == "bad"
        elif state == "record":
            if line in (b"},", b"}"):
                self._lines.append(b"}")
                out.append(b"\n".join(self._lines))
                self._lines = []
                self._state = "between" if line == b"}," else "closing"
            else:
                self._lines.append(line)
        elif state == "between":
            if line == b"{":
                self._lines = [b"{"]
                self._state = "record"
            else:
                self.bad = True
        elif state == "closing":
            if line == b"]":
                self._state = "end"
            else:
                self.bad = True
        else:
            self.bad = True


def _manifest_records(member: Member) -> Iterator[bytes]:
    """The export's manifest records as texts, streamed (parsed whole only if not framed)."""
    framing = _Framing()
    done = 0
    with member.open() as f:
        while block := f.read(_READ):
            for text in framing.feed(block):
                done += 1
                yield text
            if framing.bad:
                break
        if not framing.bad:
            for text in framing.close():
                done += 1
                yield text
    if framing.bad:
        yield from _parsed_whole(member, skip=done)


def _parsed_whole(member: Member, skip: int) -> Iterator[bytes]:
    """Fallback for manifests not in the exporter's framing: parse them whole."""
    with member.open() as f:
        try:
            records = json.load(f)
        except ValueError as err:
            raise RequestError(f"{member.name} is not valid JSON ({err})") from err
    if not isinstance(records, list):
        raise RequestError(f"{member.name} is not a list of records")
    for record in records[skip:]:
        yield json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8")


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
    """The exporter flags the export in ``container`` was written with.

    Most flags show in the export itself (folders, keys present, files present). Whether
    names come from ``-f`` is decided by planning the first documents of the snapshot both
    ways (materialize's own naming) and keeping the way that matches more of the export.
    """
    is_zip = container.is_zip
    if view.meta.profile == "django":
        first = next(iter(view.files()), None)
        data_only = first is not None and not container.members(first.path)
        return ExportOptions(zip=is_zip, data_only=data_only)
    split = _has_split_manifests(container)
    docs = _sample_documents(container, split)
    names = [d.get(EXPORTED_KEYS[0], "") for d in docs]
    archived = [d for d in docs if d.get("fields", {}).get("archive_filename") is not None]
    flags = ExportOptions(
        zip=is_zip,
        use_folder_prefix=any(n.startswith("originals/") for n in names)
        or _has_folder(container, "json/"),
        split_manifest=split,
        no_archive=bool(archived) and not any(EXPORTED_KEYS[2] in d for d in archived),
        no_thumbnail=bool(docs) and not any(EXPORTED_KEYS[1] in d for d in docs),
        data_only=bool(names) and not any(container.members(n) for n in names if n),
        passphrase="(given)" if encrypted else None,
    )
    actual = {json.dumps(d.get("pk")): d.get(EXPORTED_KEYS[0]) for d in docs}
    plain = _score(view, container, replace(flags, passphrase=None), actual)
    formatted = replace(flags, use_filename_format=True)
    unsure = plain < len(actual) or not actual
    if unsure and _score(view, container, replace(formatted, passphrase=None), actual) > plain:
        return formatted
    return flags


def _has_split_manifests(container: Container) -> bool:
    if isinstance(container, ZipContainer):
        return bool(container.split_manifests())
    for p in container.root.glob("**/*-manifest.json"):
        if p.is_file() and p.relative_to(container.root).as_posix() != MANIFEST:
            return True
    return False


def _has_folder(container: Container, prefix: str) -> bool:
    if isinstance(container, ZipContainer):
        return any(n.startswith(prefix) for n in _zip_names(container))
    return (container.root / prefix).is_dir()


def _zip_names(container: ZipContainer) -> Iterator[str]:
    """Every file entry's name, in archive order (a name twice if it is there twice)."""
    with zipfile.ZipFile(container.path) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                yield info.filename


def _sample_documents(container: Container, split: bool) -> list[dict[str, Any]]:
    """Up to SAMPLE document records of the export, parsed."""
    docs: list[dict[str, Any]] = []
    for text in _manifest_records(container.members(MANIFEST)[-1]):
        if b'"documents.document"' in text[:100]:
            record = json.loads(text)
            if record.get("model") == DOCUMENT:
                docs.append(record)
                if len(docs) >= SAMPLE:
                    break
    if not docs and split:
        for member in container.split_manifests()[:SAMPLE]:
            with member.open() as f, contextlib.suppress(ValueError):
                for record in json.loads(f.read()):
                    if isinstance(record, dict) and record.get("model") == DOCUMENT:
                        docs.append(record)
    docs.sort(key=lambda d: _pk_order(d.get("pk")))
    return docs[:SAMPLE]


def _score(
    view: SnapshotView, container: Container, flags: ExportOptions, actual: dict[str, Any]
) -> int:
    """How many of the first documents' planned names the export has."""
    sink = _NamesSink()
    with contextlib.suppress(SnapexportError):
        write_export(_SampleView(view), sink, flags)
    score = 0
    for pk, name in sink.originals.items():
        if actual.get(pk) == name or (not flags.data_only and container.members(name)):
            score += 1
    return score


class _SampleView:
    """The snapshot reduced to its first documents (and the correspondents naming needs)."""

    def __init__(self, view: SnapshotView) -> None:
        self._view = view
        self.meta = view.meta

    def records(self, model: str) -> Iterator[StoredRecord]:
        if model == DOCUMENT:
            return itertools.islice(self._view.records(model), SAMPLE)
        if model == CORRESPONDENT:
            return self._view.records(model)
        return iter(())

    def files_of(self, owner_model: str, owner_pk: str) -> dict[str, StoredFile]:
        return {}

    def files(self) -> Iterator[StoredFile]:
        return iter(())

    def missing(self) -> Iterator[MissingFile]:
        return iter(())

    def read(self, f: StoredFile) -> Iterator[bytes]:
        return iter(())


class _NullSink:
    """The parts of a Sink that do nothing."""

    def __init__(self) -> None:
        self.counts = SinkCounts()

    def __enter__(self) -> _NullSink:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        return None


class _NamesSink(_NullSink):
    """Collects the planned original name of each document (from its record)."""

    def __init__(self) -> None:
        super().__init__()
        self.originals: dict[str, str] = {}

    def add_file(
        self, arcname: str, stored: StoredFile, chunks: Chunks, *, checksum: str | None
    ) -> None:
        return None

    def add_json(self, arcname: str, data: bytes) -> None:
        if arcname != METADATA:
            for record in json.loads(data):
                self._note(record)

    @contextlib.contextmanager
    def manifest(self) -> Iterator[BinaryIO]:
        framing = _Framing()

        def take(texts: list[bytes]) -> None:
            for text in texts:
                if text.startswith(_DOC_PREFIX):
                    self._note(json.loads(text))

        yield _Writer(lambda data: take(framing.feed(data)))  # type: ignore[misc]
        take(framing.close())

    def _note(self, record: dict[str, Any]) -> None:
        if record.get("model") == DOCUMENT and EXPORTED_KEYS[0] in record:
            self.originals[json.dumps(record["pk"])] = record[EXPORTED_KEYS[0]]


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
            raise RequestError(f"{where}: a record is not valid JSON ({err})") from err
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
            while block := f.read(_READ):
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
        framing = _Framing()
        actual = _manifest_records(self.container.members(MANIFEST)[-1])

        def take(texts: list[bytes]) -> None:
            for text in texts:
                self.matcher.pair(text, next(actual, None), MANIFEST)

        yield _Writer(lambda data: take(framing.feed(data)))  # type: ignore[misc]
        take(framing.close())
        for rest in actual:
            self.matcher.pair(None, rest, MANIFEST)


def _extras(
    container: Container, names: _Names, report: ExportComparison, result: MaterializeResult
) -> None:
    """Every file in the export that the snapshot's export would not hold."""
    lacking = {m.name: m.reason for m in result.missing}
    for batch in _batches(_all_names(container), 500):
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


def _all_names(container: Container) -> Iterator[str]:
    if isinstance(container, ZipContainer):
        yield from dict.fromkeys(_zip_names(container))
        return
    root = container.root
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel = Path(folder).relative_to(root)
        for name in sorted(files):
            yield (rel / name).as_posix()


def _batches(items: Iterator[str], n: int) -> Iterator[list[str]]:
    while batch := list(itertools.islice(items, n)):
        yield batch


def _pk_order(pk: Any) -> tuple[int, Any]:
    return (0, pk) if isinstance(pk, int) else (1, str(pk))


__all__ = ["Difference", "ExportComparison", "compare_export", "detect_flags"]
