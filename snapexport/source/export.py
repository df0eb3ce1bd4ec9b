"""Reading an existing export (folder or zip, any exporter flags) as a snapshot source.

``ExportSource`` presents what ``document_exporter`` (or ``materialize``) wrote as the records
and files of the site it was taken from, through the ``Source`` protocol:

- every record's text is the exporter's per-record JSON *without* the ``__exported_*`` keys
  (share-link bundles keep the portable ``file_path`` the export holds; encrypted fields are
  decrypted with the passphrase, which is required when metadata.json has ``__crypto__``);
- sections are the exporter's query order (documents and bundles placed where the exporter
  queries them; notes and custom-field instances that only live in split manifests too);
- files are mapped back to their media paths: ``documents/originals/<filename>``,
  ``documents/archive/<archive_filename>``, ``documents/thumbnails/<pk:07>.webp``,
  ``documents/share_link_bundles/<file_path>``, with size, mtime and mode from the export;
- a file the export lost (two documents under one name, the exporter's stem collision) or
  lacks is reported missing through ``FileRef.stat`` raising, so the snapshot is marked
  incomplete instead of holding another document's bytes.

Flags are detected, not given (``exportformat.flags``, the detector verify uses too):
folder prefixes, split manifests, ``-nt``, ``-na``, ``--data-only``, ``-f`` (then each
document's ``extra["format_name"]`` is its name so a ``-f`` materialize gives the same names
back) and ``--passphrase``. The snapshot time to use is
``export_time``: the manifest.json's mtime (folder) or its entry's timestamp (zip).

Manifests in the exporter's framing are indexed by byte offset and read again on
``serialize``, so memory holds offsets and small per-document facts, not record texts.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import blake3

from snapexport.errors import SourceError
from snapexport.exportformat.containers import (
    Container,
    ContainerError,
    Member,
    open_container,
    read_metadata,
)
from snapexport.exportformat.crypto import FieldCrypto, export_crypto
from snapexport.exportformat.flags import ExportedDocument, ExportLayout, detect_layout, pk_order
from snapexport.exportformat.labels import BUNDLE, CORRESPONDENT, DOCUMENT
from snapexport.exportformat.manifest import (
    EXPORTED_ARCHIVE_NAME,
    EXPORTED_BUNDLE_NAME,
    EXPORTED_FILE_NAME,
    EXPORTED_KEYS,
    EXPORTED_THUMBNAIL_NAME,
    MANIFEST,
    ManifestError,
    dumps,
    read_manifest,
)
from snapexport.exportformat.naming import (
    MEDIA_FOLDERS,
    PREFIX_FOLDERS,
    file_type,
    original_media_name,
    strip_counter,
    thumbnail_media_name,
)
from snapexport.exportformat.sections import QUERY_ORDER
from snapexport.source.base import FileRef, RowRef, SerializedRecord, SiteInfo

_ORIGINALS = PREFIX_FOLDERS["original"] + "/"


@dataclass(slots=True)
class _Entry:
    """Where one record lives in the export and what the source says about it."""

    model: str
    pk: str  # json.dumps of the pk
    where: str  # MANIFEST or a split manifest's name
    offset: int  # byte offset in the manifest, or index in the split manifest
    length: int  # byte length in the manifest (0 for split manifests and parsed records)
    fingerprint: bytes
    order: tuple[Any, ...]
    extra: dict[str, Any] | None = None
    text: str | None = None  # only for manifests not in the exporter's framing


@dataclass(slots=True)
class _Claim:
    pk_json: str
    owner_model: str
    role: str
    media_path: str
    checksum: str | None
    lost: str | None = None
    member: Member | None = None


@dataclass(slots=True)
class _Index:
    entries: dict[str, list[_Entry]] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)  # first-appearance order
    docs: list[ExportedDocument] = field(default_factory=list)
    bundles: list[tuple[Any, str, str]] = field(default_factory=list)  # pk, file_path, name
    correspondents: dict[Any, str] = field(default_factory=dict)


class ExportSource:
    """An export on disk (folder or zip) as a ``Source`` (see the module docstring)."""

    profile = "paperless"

    def __init__(
        self, path: Path, *, passphrase: str | None = None, time_zone: str = "UTC"
    ) -> None:
        self.path = Path(path)
        self.passphrase = passphrase
        self.time_zone = time_zone
        self._tz = ZoneInfo(time_zone)
        self._stack: contextlib.ExitStack | None = None
        self._container: Container | None = None
        self._manifest: IO[bytes] | None = None
        self._crypto: FieldCrypto | None = None
        self._index = _Index()
        self._split_cache: tuple[str, list[dict[str, Any]]] | None = None
        self._splits: dict[str, Member] = {}
        self._split_members: list[Member] = []
        self.metadata: dict[str, Any] = {}
        self.layout: ExportLayout | None = None
        self.export_time: datetime | None = None

    # -- Source protocol -------------------------------------------------------------

    @contextlib.contextmanager
    def open(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            try:
                container = stack.enter_context(open_container(self.path, self._tz))
                self.metadata = read_metadata(container)
            except ContainerError as err:
                raise SourceError(str(err)) from err
            self._crypto = export_crypto(self.metadata, self.passphrase, self.path)
            self._container = container
            manifest = container.members(MANIFEST)
            self.export_time = datetime.fromtimestamp(manifest[-1].mtime_ns / 1e9, UTC)
            self._manifest = stack.enter_context(container.local_copy(MANIFEST))
            self._index = _Index()
            self._index_manifest(self._manifest)
            self._split_members = container.split_manifests()
            self._index_splits(container)
            self._finish_index()
            self._stack = stack
            try:
                yield
            finally:
                self._stack = None
                self._manifest = None
                self._container = None
                self._split_cache = None

    def info(self) -> SiteInfo:
        self._require_open()
        return SiteInfo(
            profile=self.profile,
            sections=tuple(self._sections()),
            site_version=self.metadata.get("version"),
            time_zone=self.time_zone,
            migrations={},
        )

    def rows(self, model: str) -> Iterator[RowRef]:
        self._require_open()
        for i, entry in enumerate(self._index.entries.get(model, [])):
            yield RowRef(entry.pk, entry.fingerprint, i.to_bytes(8, "big"))

    def serialize(self, model: str, pks: Sequence[str]) -> Iterator[SerializedRecord]:
        self._require_open()
        by_pk = {e.pk: e for e in self._index.entries.get(model, [])}
        for pk in pks:
            entry = by_pk.get(pk)
            if entry is None:
                raise SourceError(f"{model} {pk} is not in the export")
            yield SerializedRecord(entry.pk, self._text(entry), entry.extra)

    def files(self) -> Iterator[FileRef]:
        self._require_open()
        for claim in self._claims():
            member = claim.member
            algo = None
            if claim.checksum:
                algo = "md5" if len(claim.checksum) == 32 else "sha256"
            abs_path = member.abs_path if member else self.path / claim.media_path
            ref = FileRef(
                path=claim.media_path,
                location=abs_path,
                role=claim.role,
                owner_model=claim.owner_model,
                owner_pk=claim.pk_json,
                checksum=claim.checksum,
                checksum_algo=algo,
                opener=member.open if member is not None and member.opener else None,
                stat=_stat_fn(member, claim.lost),
            )
            yield ref

    # -- reading ------------------------------------------------------------------------

    def _require_open(self) -> None:
        if self._container is None:
            raise SourceError("ExportSource used outside open()")

    def _index_manifest(self, manifest: IO[bytes]) -> None:
        def rewound() -> contextlib.AbstractContextManager[IO[bytes]]:
            manifest.seek(0)
            return contextlib.nullcontext(manifest)

        try:
            for position, item in enumerate(read_manifest(rewound, MANIFEST)):
                record = json.loads(item.text)
                if item.offset is None:  # not the exporter's framing: keep the text
                    self._add(record, MANIFEST, position, 0, self._clean(record), keep_text=True)
                else:
                    self._add(record, MANIFEST, item.offset, len(item.text), self._clean(record))
        except ManifestError as err:
            raise SourceError(f"{self.path}: {err}") from err

    def _index_splits(self, container: Container) -> None:
        self._splits = {}
        for n, member in enumerate(self._split_members):
            key = f"{member.name}#{n}"  # a zip may hold two split manifests under one name
            self._splits[key] = member
            for i, record in enumerate(self._split_records(key)):
                self._add(record, key, i, 0, self._clean(record))

    def _split_records(self, key: str) -> list[dict[str, Any]]:
        if self._split_cache is not None and self._split_cache[0] == key:
            return self._split_cache[1]
        with self._splits[key].open() as f:
            records = json.loads(f.read())
        if not isinstance(records, list):
            raise SourceError(f"{self.path}: {self._splits[key].name} is not a split manifest")
        self._split_cache = (key, records)
        return records

    def _add(
        self,
        record: dict[str, Any],
        where: str,
        offset: int,
        length: int,
        text: str,
        *,
        keep_text: bool = False,
    ) -> None:
        model = record["model"]
        pk_json = json.dumps(record["pk"])
        index = self._index
        if model not in index.entries:
            index.entries[model] = []
            index.models.append(model)
        order: tuple[Any, ...] = (0, len(index.entries[model]))
        if where != MANIFEST:
            # Split manifests group by document; the exporter's order is created, then pk.
            order = (1, _moment(record["fields"].get("created")), pk_order(record["pk"]))
            if model == DOCUMENT:
                order = (1, pk_order(record["pk"]))
        entry = _Entry(
            model,
            pk_json,
            where,
            offset,
            length,
            blake3.blake3(text.encode("utf-8")).digest(),
            order,
            text=text if keep_text else None,
        )
        index.entries[model].append(entry)
        if model == CORRESPONDENT:
            index.correspondents[record["pk"]] = record["fields"].get("name")
        elif model == DOCUMENT:
            index.docs.append(ExportedDocument.of(record))
        elif model == BUNDLE and EXPORTED_BUNDLE_NAME in record:
            index.bundles.append(
                (
                    record["pk"],
                    record["fields"].get("file_path") or "",
                    record[EXPORTED_BUNDLE_NAME],
                )
            )

    def _finish_index(self) -> None:
        index = self._index
        for entries in index.entries.values():
            entries.sort(key=lambda e: e.order)
        index.docs.sort(key=lambda d: pk_order(d.pk))
        assert self._container is not None
        self.layout = detect_layout(
            self._container,
            index.docs,
            index.correspondents,
            split_manifests=self._split_members,
            encrypted=self._crypto is not None,
        )
        if self.layout.use_filename_format:
            self._set_format_names()

    def _clean(self, record: dict[str, Any]) -> str:
        """The record as the site's serializer wrote it: no ``__exported_*``, decrypted."""
        stripped = {k: v for k, v in record.items() if k not in EXPORTED_KEYS}
        if self._crypto is not None:
            self._crypto.decrypt_record(stripped)
        return dumps(stripped)

    def _text(self, entry: _Entry) -> str:
        if entry.text is not None:
            return entry.text
        if entry.where == MANIFEST:
            assert self._manifest is not None
            self._manifest.seek(entry.offset)
            record = json.loads(self._manifest.read(entry.length))
        else:
            record = self._split_records(entry.where)[entry.offset]
        return self._clean(record)

    # -- flags, sections, files ---------------------------------------------------------

    def _set_format_names(self) -> None:
        seen: set[str] = set()
        by_pk: dict[str, dict[str, Any]] = {}
        for doc in self._index.docs:
            name = doc.names.get(EXPORTED_FILE_NAME, "").removeprefix(_ORIGINALS)
            base = name
            stripped = strip_counter(name, file_type(doc.fields.get("mime_type")))
            if name != doc.fields.get("filename") and stripped and stripped[0] in seen:
                base = stripped[0]  # the exporter's counter, not part of the name
            seen.add(base)
            by_pk[json.dumps(doc.pk)] = {"format_name": base}
        for entry in self._index.entries.get(DOCUMENT, []):
            entry.extra = by_pk.get(entry.pk)

    def _sections(self) -> list[str]:
        """Known models in the exporter's query order, unknown ones after their neighbour."""
        present = self._index.models
        keyed: list[tuple[tuple[int, int], str]] = []
        for i, model in enumerate(present):
            if model in QUERY_ORDER:
                keyed.append(((QUERY_ORDER.index(model), -1), model))
            else:
                before = [m for m in present[:i] if m in QUERY_ORDER]
                anchor = QUERY_ORDER.index(before[-1]) if before else -1
                keyed.append(((anchor, i), model))
        keyed.sort(key=lambda t: t[0])
        return [m for _, m in keyed]

    def _claims(self) -> list[_Claim]:
        """Every file the export holds for a record, with its owner resolved."""
        assert self._container is not None and self.layout is not None
        if self.layout.data_only:
            return []
        claims: list[tuple[str, _Claim]] = []
        for doc in self._index.docs:
            pk_json = json.dumps(doc.pk)
            f = doc.fields
            original = original_media_name(doc.pk, f.get("filename"), f.get("mime_type"))
            wanted = [
                (EXPORTED_FILE_NAME, "original", _media("original", original), f.get("checksum")),
                (
                    EXPORTED_THUMBNAIL_NAME,
                    "thumbnail",
                    _media("thumbnail", thumbnail_media_name(doc.pk)),
                    None,
                ),
            ]
            if f.get("archive_filename"):
                archive = _media("archive", f["archive_filename"])
                wanted.append(
                    (EXPORTED_ARCHIVE_NAME, "archive", archive, f.get("archive_checksum"))
                )
            for key, role, media, checksum in wanted:
                if key in doc.names:
                    claims.append(
                        (doc.names[key], _Claim(pk_json, DOCUMENT, role, media, checksum))
                    )
        for pk, file_path, name in self._index.bundles:
            media = _media("bundle", file_path)
            claims.append((name, _Claim(json.dumps(pk), BUNDLE, "bundle", media, None)))
        by_name: dict[str, list[_Claim]] = {}
        for name, claim in claims:
            by_name.setdefault(name, []).append(claim)
        for name, group in by_name.items():
            self._resolve(name, group)
        return [c for _, c in claims]

    def _resolve(self, name: str, group: list[_Claim]) -> None:
        assert self._container is not None
        members = self._container.members(name)
        if not members:
            for claim in group:
                claim.lost = f"not in the export ({name})"
            return
        if len(group) == 1:
            group[0].member = members[0]
            return
        if self._container.is_zip and len(members) >= len(group):
            for claim, member in zip(group, members, strict=False):
                claim.member = member
            return
        # One file for several records (the exporter's stem collision): it holds the bytes of
        # the record whose checksum matches, else of the last one written.
        owner = group[-1]
        digest = _sha256(members[-1]) if any(c.checksum for c in group) else None
        for claim in reversed(group):
            if digest and claim.checksum and claim.checksum.lower() == digest:
                owner = claim
                break
        owner.member = members[-1]
        for claim in group:
            if claim is not owner:
                claim.lost = (
                    f"the export kept one {name!r} for several documents; it holds "
                    f"{owner.owner_model} {owner.pk_json}'s"
                )


def _stat_fn(member: Member | None, lost: str | None) -> Any:
    if lost is not None or member is None:
        reason = lost or "not in the export"

        def missing() -> os.stat_result:
            raise FileNotFoundError(errno.ENOENT, reason)

        return missing
    return member.stat_result if member.opener is not None else None


def _sha256(member: Member) -> str:
    h = hashlib.sha256()
    with member.open() as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _media(role: str, name: str) -> str:
    return f"{MEDIA_FOLDERS[role]}/{name}"


def _moment(value: Any) -> tuple[int, Any]:
    """An ordering key for a serialized datetime (``...:01Z`` sorts before ``...:01.002Z``)."""
    try:
        return (0, datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return (1, str(value))


__all__ = ["ExportLayout", "ExportSource"]
