"""``restore`` and ``dump``: single documents back out of the store, verified.

``restore`` writes each document's original, archive and thumbnail into TARGET under the
names ``document_exporter`` gives them (materialize's ``Namer``), and one readable
``snapexport-restore.json`` with, per document, its record, its parts (notes, custom field
instances), the records those refer to and a summary with every reference by its natural
key (name). Every file is streamed from the store chunk by chunk (each chunk checked
against its BLAKE3 id), its whole content checked against the blob id and, where the
record has one, against the site's own checksum (SHA-256, MD5 for old sites), then made
durable under its name (temp, fsync, rename); a mismatch leaves nothing behind.
Without SNAPSHOT each document comes from the newest snapshot holding it (so a document
deleted since is restored from its last snapshot).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from snapexport.catalog import documents as cat
from snapexport.catalog.documents import Documents
from snapexport.catalog.records import decode_text
from snapexport.documents.history import parse_document_id
from snapexport.documents.index import prepare
from snapexport.documents.naming import SnapshotNames
from snapexport.documents.profile import DocumentProfile, Reference, store_profile
from snapexport.documents.search import Timeline, find_documents
from snapexport.errors import CorruptionError, RequestError
from snapexport.fsutil import atomic_writer
from snapexport.values import SnapshotMeta, StoredFile

if TYPE_CHECKING:
    from snapexport.store import Store

RUN_FILE = "snapexport-restore.json"


@dataclass(frozen=True, slots=True)
class RestoredDocument:
    pk: Any
    snapshot: str
    files: dict[str, str]  # role -> name in TARGET

    def as_json(self) -> dict[str, Any]:
        return {"id": self.pk, "snapshot": self.snapshot, "files": self.files}


@dataclass(slots=True)
class RestoreResult:
    target: Path
    documents: list[RestoredDocument] = field(default_factory=list)
    files_written: int = 0
    bytes_written: int = 0
    records_file: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"target": str(self.target), "files_written": self.files_written,
                "bytes_written": self.bytes_written, "records": self.records_file,
                "documents": [d.as_json() for d in self.documents]}  # fmt: skip

    def summary(self) -> str:
        what = f"{len(self.documents)} document(s), {self.files_written} file(s)"
        return f"restored {what} ({self.bytes_written / 1e6:.2f} MB) into {self.target}"


@dataclass(slots=True)
class _Doc:
    """One document to restore: the version a snapshot holds and its files (its record is
    read again when its JSON is written, so a long list does not hold every text)."""

    pk: str
    meta: SnapshotMeta
    version: cat.VersionRow
    files: dict[str, StoredFile]


def check_restore_target(target: Path) -> None:
    """TARGET must be a writable folder; a missing one is made with its parents, as
    materialize does (a restore into a new folder should not need a mkdir first)."""
    if not target.exists():
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise RequestError(
                f"cannot create the restore target {target}: {err.strerror or err}"
                " (create it yourself, or choose a folder you can write to)"
            ) from None
    if not target.is_dir():
        raise RequestError(f"restore target {target} is not a folder: name a folder")
    if not os.access(target, os.W_OK | os.X_OK):
        raise RequestError(f"restore target {target} is not writable: choose another folder"
                         " or fix its permissions")  # fmt: skip


def restore_documents(
    store: Store,
    target: Path,
    *,
    documents: tuple[str, ...] = (),
    query: str | None = None,
    snapshot: str | None = None,
    original_only: bool = False,
) -> RestoreResult:
    """Restore the documents named (ids) or found (``query``) into ``target``."""
    target = Path(target)
    check_restore_target(target)
    if not documents and not query:
        raise RequestError("name the documents to restore: --document ID (or --query QUERY)")
    timeline = Timeline(store.catalog.snapshots.all())
    profile = store_profile({m.profile for m in timeline.metas})
    prepare(store, profile)
    meta = store.catalog.snapshots.resolve(snapshot) if snapshot else None
    pks = [parse_document_id(d) for d in documents]
    if query:
        found = [json.dumps(d.pk) for d in find_documents(store, query).documents]
        if not found:
            raise RequestError(f"no document in any snapshot matches {query!r}: try a shorter"
                             " query, or snapexport ls")  # fmt: skip
        pks += [p for p in found if p not in pks]
    chosen = [_locate(store, profile, timeline, pk, meta) for pk in dict.fromkeys(pks)]
    return _write(store, profile, chosen, target, original_only)


def _locate(store: Store, profile: DocumentProfile, timeline: Timeline, pk: str,
            meta: SnapshotMeta | None) -> _Doc:  # fmt: skip
    docs = store.catalog.documents
    versions = docs.versions_of(profile.document, pk)
    chosen: tuple[cat.VersionRow, SnapshotMeta] | None = None
    for v in versions:
        if meta is not None:
            if v.born <= meta.seq and (v.died is None or v.died > meta.seq):
                chosen = (v, meta)
        else:
            held = timeline.held(v.born, v.died)
            if held is not None:
                chosen = (v, store.catalog.snapshots.resolve(held[1].id))
    if chosen is None:
        where = f"snapshot {meta.short_id}" if meta else "any snapshot"
        raise RequestError(f"document {json.loads(pk)} is not in {where}: run snapexport find"
                         " to see which snapshots hold it")  # fmt: skip
    v, m = chosen
    files = store.catalog.spans.files_of(m.seq, profile.document, [pk]).get(pk, {})
    return _Doc(pk, m, v, files)


def _write(store: Store, profile: DocumentProfile, chosen: list[_Doc], target: Path,
           original_only: bool) -> RestoreResult:  # fmt: skip
    docs = store.catalog.documents
    by_snapshot: dict[int, SnapshotNames] = {}
    plans: list[tuple[_Doc, dict[str, str]]] = []
    taken: set[str] = {RUN_FILE}
    for d in chosen:
        if d.meta.seq not in by_snapshot:
            by_snapshot[d.meta.seq] = SnapshotNames(docs, d.meta, profile)
        names = by_snapshot[d.meta.seq].names(d.version)
        roles = ("original",) if original_only else ("original", "archive", "thumbnail")
        wanted = {"original": names.original, "archive": names.archive,
                  "thumbnail": names.thumbnail}  # fmt: skip
        named = {r: n for r, n in wanted.items() if n and r in roles and r in d.files}
        for name in named.values():
            if name in taken:  # two snapshots' documents under one name
                raise RequestError(f"two documents to restore are both named {name!r}: restore"
                                 " them one at a time, into separate folders")  # fmt: skip
            taken.add(name)
        plans.append((d, named))
    for _d, named in plans:
        for name in named.values():
            if (target / name).exists():
                raise RequestError(f"{target / name} already exists: restore into an empty"
                                 " folder, or move that file away")  # fmt: skip
    result = RestoreResult(target)
    for d, named in plans:
        for role, name in named.items():
            stored = d.files[role]
            checksum = {"original": d.version.checksum,
                        "archive": d.version.archive_checksum}.get(role)  # fmt: skip
            result.bytes_written += _copy(store, stored, target / name, checksum,
                                          f"document {json.loads(d.pk)}'s {role}")  # fmt: skip
            result.files_written += 1
        result.documents.append(RestoredDocument(json.loads(d.pk), d.meta.id, named))
    if not original_only:
        with atomic_writer(target / RUN_FILE) as f:
            _write_records(f, store, profile, plans)
        result.records_file = RUN_FILE
    return result


def _copy(store: Store, stored: StoredFile, dest: Path, checksum: str | None, what: str) -> int:
    with atomic_writer(dest) as f:
        for piece in verified_stream(store, stored, checksum, what):
            f.write(piece)
    os.utime(dest, ns=(stored.mtime_ns, stored.mtime_ns))
    return stored.size


def verified_stream(
    store: Store, stored: StoredFile, checksum: str | None, what: str
) -> Iterator[bytes]:
    """The file's bytes; raises CorruptionError at the end if the whole does not match its
    blob id or the record's checksum (each chunk is verified by the store as it comes)."""
    blob_hash = store.ids.hasher()
    site_hash = None
    if checksum:
        site_hash = hashlib.new("md5" if len(checksum) == 32 else "sha256")
    size = 0
    reader = store.read_blob(stored.blob)
    try:
        for piece in reader:
            blob_hash.update(piece)
            if site_hash is not None:
                site_hash.update(piece)
            size += len(piece)
            yield piece
    finally:
        if hasattr(reader, "close"):
            reader.close()
    if blob_hash.digest() != stored.blob or size != stored.size:
        raise CorruptionError(f"{what} ({stored.path}) does not match its stored id:"
                              " run snapexport check --read-data")  # fmt: skip
    if site_hash is not None and site_hash.hexdigest() != checksum.lower():  # type: ignore[union-attr]
        raise CorruptionError(f"{what} ({stored.path}) does not match the checksum the site"
                              " recorded: run snapexport check --read-data")  # fmt: skip


def _write_records(f: BinaryIO, store: Store, profile: DocumentProfile,
                   plans: list[tuple[_Doc, dict[str, str]]]) -> None:  # fmt: skip
    """One readable JSON document, written a document at a time."""
    f.write(b'{\n  "documents": [\n')
    for i, (d, named) in enumerate(plans):
        entry = _records_of(store, profile, d, named)
        text = json.dumps(entry, indent=2, ensure_ascii=False, sort_keys=False)
        f.write(("    " + text.replace("\n", "\n    ")).encode("utf-8"))
        f.write(b",\n" if i + 1 < len(plans) else b"\n")
    f.write(b"  ]\n}\n")


def _records_of(store: Store, profile: DocumentProfile, d: _Doc,
                named: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    docs = store.catalog.documents
    seq = d.meta.seq
    refs = _References(docs, seq)
    row = docs.span_record(d.version.span)
    if row is None:  # the span was pruned while the files were written
        raise CorruptionError(f"document {json.loads(d.pk)}: its record is no longer stored")
    record: dict[str, Any] = json.loads(decode_text(row[0]))
    fields = record.get("fields", {})
    summary = {"id": record.get("pk"), **_summary(fields, profile.references, refs)}
    parts: dict[str, list[dict[str, Any]]] = {}
    part_records = []
    for model, _pk, data in docs.parts_at(d.pk, seq):
        part = json.loads(decode_text(data))
        part_records.append(part)
        readable = _summary(part.get("fields", {}), profile.part_references.get(model, ()), refs)
        readable.pop(profile.parts[model], None)
        parts.setdefault(model, []).append({"id": part.get("pk"), **readable})
    return {
        "id": record.get("pk"),
        "snapshot": {"id": d.meta.id, "time": d.meta.time.isoformat()},
        "files": named,
        "summary": {**summary, **{m.split(".")[-1]: v for m, v in parts.items()}},
        "records": [record, *part_records],
        "references": refs.records,
    }


class _References:
    """Records a document refers to, read as one snapshot holds them (by model, pk)."""

    def __init__(self, docs: Documents, seq: int) -> None:
        self.docs = docs
        self.seq = seq
        self.records: dict[str, list[dict[str, Any]]] = {}
        self._seen: dict[tuple[str, str], dict[str, Any] | None] = {}

    def name(self, ref: Reference, value: Any) -> Any:
        key = (ref.model, json.dumps(value))
        if key not in self._seen:
            row = self.docs.record_at(ref.model, key[1], self.seq)
            record = json.loads(decode_text(row[0])) if row else None
            self._seen[key] = record
            if record is not None:
                self.records.setdefault(ref.model, []).append(record)
        record = self._seen[key]
        if record is None:
            return value
        return record.get("fields", {}).get(ref.name_field, value)


def _summary(fields: dict[str, Any], references: tuple[Reference, ...],
             refs: _References) -> dict[str, Any]:  # fmt: skip
    """The fields, with each reference replaced by the referred record's name."""
    out = dict(fields)
    for ref in references:
        value = fields.get(ref.field)
        if value is None:
            continue
        if isinstance(value, list):
            out[ref.field] = [refs.name(ref, v) for v in value]
        else:
            out[ref.field] = refs.name(ref, value)
    return out


@dataclass(slots=True)
class Dump:
    """One document file, ready to stream (``chunks`` is verified as it goes)."""

    document: Any
    role: str
    size: int
    chunks: Iterator[bytes]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.document, "role": self.role, "size": self.size}


def dump_file(store: Store, spec: str, document: str, role: str) -> Dump:
    """The original (or archive) of one document as snapshot ``spec`` holds it."""
    meta = store.catalog.snapshots.resolve(spec)
    timeline = Timeline(store.catalog.snapshots.all())
    profile = store_profile({meta.profile})
    prepare(store, profile)
    d = _locate(store, profile, timeline, parse_document_id(document), meta)
    stored = d.files.get(role)
    if stored is None:
        raise RequestError(f"document {document} has no {role} in snapshot {meta.short_id}"
                         + (": try --original" if role != "original" else ""))  # fmt: skip
    checksum = d.version.checksum if role == "original" else d.version.archive_checksum
    what = f"document {document}'s {role}"
    return Dump(json.loads(d.pk), role, stored.size,
                verified_stream(store, stored, checksum, what))  # fmt: skip
