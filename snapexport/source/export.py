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

Flags are detected, not given: folder prefixes, split manifests, ``-nt``, ``-na``,
``--data-only``, ``-f`` (then each document's ``extra["format_name"]`` is its name so a ``-f``
materialize gives the same names back) and ``--passphrase``. The snapshot time to use is
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
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import blake3
from pathvalidate import sanitize_filename

from snapexport.errors import RequestError, SourceError
from snapexport.materialize.crypto import CRYPT_FIELDS, CRYPTO_KEY, FieldCrypto
from snapexport.materialize.encoding import EXPORTED_KEYS, dumps
from snapexport.materialize.naming import file_type
from snapexport.source.base import FileRef, RowRef, SerializedRecord, SiteInfo
from snapexport.source.export_container import DirectoryContainer, Member, ZipContainer

DOCUMENT = "documents.document"
BUNDLE = "documents.sharelinkbundle"
CORRESPONDENT = "documents.correspondent"
SPLIT_CHILDREN = ("documents.note", "documents.customfieldinstance")

# The exporter's query order (paperless-ngx 3.0.5); unknown models keep their manifest place.
CANONICAL_SECTIONS = (
    "documents.correspondent",
    "documents.tag",
    "documents.documenttype",
    "documents.storagepath",
    "paperless_mail.mailaccount",
    "paperless_mail.mailrule",
    "documents.savedview",
    "documents.savedviewfilterrule",
    "auth.group",
    "auth.user",
    "documents.uisettings",
    "contenttypes.contenttype",
    "auth.permission",
    "guardian.userobjectpermission",
    "guardian.groupobjectpermission",
    "documents.workflowtrigger",
    "documents.workflowaction",
    "documents.workflowactionemail",
    "documents.workflowactionwebhook",
    "documents.workflow",
    "documents.customfield",
    "documents.customfieldinstance",
    "paperless.applicationconfiguration",
    "documents.note",
    "documents.document",
    "documents.sharelink",
    "documents.sharelinkbundle",
    "socialaccount.socialaccount",
    "socialaccount.socialapp",
    "socialaccount.socialtoken",
    "mfa.authenticator",
    "auditlog.logentry",
)


@dataclass(frozen=True, slots=True)
class ExportLayout:
    """The exporter flags an export was written with, as far as its contents tell."""

    zip: bool
    zip_name: str | None
    use_folder_prefix: bool
    split_manifest: bool
    use_filename_format: bool
    no_archive: bool
    no_thumbnail: bool
    data_only: bool
    passphrase: bool


@dataclass(slots=True)
class _Entry:
    """Where one record lives in the export and what the source says about it."""

    model: str
    pk: str  # json.dumps of the pk
    where: str  # "manifest.json" or a split manifest's name
    offset: int  # byte offset in the manifest, or index in the split manifest
    length: int  # byte length in the manifest (0 for split manifests and parsed records)
    fingerprint: bytes
    order: tuple[Any, ...]
    extra: dict[str, Any] | None = None
    text: str | None = None  # only for manifests not in the exporter's framing


@dataclass(slots=True)
class _Doc:
    """A document's file facts, kept after indexing."""

    pk: Any
    fields: dict[str, Any]
    names: dict[str, str]  # __exported_* key -> name


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
    docs: list[_Doc] = field(default_factory=list)
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
        self._container: DirectoryContainer | ZipContainer | None = None
        self._manifest: IO[bytes] | None = None
        self._crypto: FieldCrypto | None = None
        self._index = _Index()
        self._split_cache: tuple[str, list[dict[str, Any]]] | None = None
        self._splits: dict[str, Member] = {}
        self.metadata: dict[str, Any] = {}
        self.layout: ExportLayout | None = None
        self.export_time: datetime | None = None

    # -- Source protocol -------------------------------------------------------------

    @contextlib.contextmanager
    def open(self) -> Iterator[None]:
        if not self.path.exists():
            raise SourceError(f"{self.path}: no such export")
        with contextlib.ExitStack() as stack:
            if self.path.is_dir():
                container: DirectoryContainer | ZipContainer = DirectoryContainer(self.path)
            else:
                container = ZipContainer(self.path, self._tz)
            try:
                stack.enter_context(container)
            except (OSError, ValueError) as err:
                raise SourceError(f"{self.path}: not a readable export ({err})") from err
            self._container = container
            manifest = container.members("manifest.json")
            if not manifest:
                raise SourceError(f"{self.path}: no manifest.json, not an export")
            self.export_time = datetime.fromtimestamp(manifest[-1].mtime_ns / 1e9, UTC)
            self._read_metadata(container)
            self._manifest = stack.enter_context(container.local_copy("manifest.json"))
            self._index = _Index()
            self._index_manifest(self._manifest)
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

    def _read_metadata(self, container: DirectoryContainer | ZipContainer) -> None:
        self.metadata = {}
        members = container.members("metadata.json")
        if members:
            with members[-1].open() as f:
                self.metadata = json.loads(f.read())
        self._crypto = None
        if CRYPTO_KEY in self.metadata:
            if not self.passphrase:
                raise RequestError(
                    f"{self.path}: this export's sensitive fields are encrypted "
                    "(metadata.json has __crypto__): give the passphrase it was made with"
                )
            self._crypto = FieldCrypto.from_metadata(self.passphrase, self.metadata)

    def _index_manifest(self, manifest: IO[bytes]) -> None:
        spans = _framed_spans(manifest)
        if spans is None:  # not the exporter's framing (e.g. an older exporter): parse it all
            manifest.seek(0)
            for position, record in enumerate(json.load(manifest)):
                text = self._clean(record)
                self._add(record, "manifest.json", position, 0, text, keep_text=True)
            return
        for offset, length in spans:
            manifest.seek(offset)
            record = json.loads(manifest.read(length))
            self._add(record, "manifest.json", offset, length, self._clean(record))

    def _index_splits(self, container: DirectoryContainer | ZipContainer) -> None:
        self._splits = {}
        for n, member in enumerate(container.split_manifests()):
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
        if where != "manifest.json":
            # Split manifests group by document; the exporter's order is created, then pk.
            order = (1, _moment(record["fields"].get("created")), _pk_order(record["pk"]))
            if model == DOCUMENT:
                order = (1, _pk_order(record["pk"]))
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
            names = {k: record[k] for k in EXPORTED_KEYS if k in record}
            index.docs.append(_Doc(record["pk"], record["fields"], names))
        elif model == BUNDLE and EXPORTED_KEYS[3] in record:
            index.bundles.append(
                (record["pk"], record["fields"].get("file_path") or "", record[EXPORTED_KEYS[3]])
            )

    def _finish_index(self) -> None:
        index = self._index
        for entries in index.entries.values():
            entries.sort(key=lambda e: e.order)
        index.docs.sort(key=lambda d: _pk_order(d.pk))
        self.layout = self._detect_layout()
        if self.layout.use_filename_format:
            self._set_format_names()

    def _clean(self, record: dict[str, Any]) -> str:
        """The record as the site's serializer wrote it: no ``__exported_*``, decrypted."""
        model = record.get("model", "")
        stripped = {k: v for k, v in record.items() if k not in EXPORTED_KEYS}
        if model in CRYPT_FIELDS and self._crypto is not None:
            fields = stripped["fields"]
            for name in CRYPT_FIELDS[model]:
                if fields.get(name):
                    fields[name] = self._crypto.decrypt(fields[name])
        return dumps(stripped)

    def _text(self, entry: _Entry) -> str:
        if entry.text is not None:
            return entry.text
        if entry.where == "manifest.json":
            assert self._manifest is not None
            self._manifest.seek(entry.offset)
            record = json.loads(self._manifest.read(entry.length))
        else:
            record = self._split_records(entry.where)[entry.offset]
        return self._clean(record)

    # -- flags, sections, files ---------------------------------------------------------

    def _detect_layout(self) -> ExportLayout:
        docs = self._index.docs
        assert self._container is not None
        names = [d.names.get(EXPORTED_KEYS[0], "") for d in docs]
        has_archive = [d for d in docs if d.fields.get("archive_filename") is not None]
        data_only = bool(docs) and not any(self._container.members(n) for n in names if n)
        return ExportLayout(
            zip=self._container.is_zip,
            zip_name=self.path.stem if self._container.is_zip else None,
            use_folder_prefix=any(n.startswith("originals/") for n in names),
            split_manifest=any(
                e.where != "manifest.json" for e in self._index.entries.get(DOCUMENT, [])
            ),
            use_filename_format=self._uses_filename_format(),
            no_archive=bool(has_archive)
            and not any(EXPORTED_KEYS[2] in d.names for d in has_archive),
            no_thumbnail=bool(docs) and not any(EXPORTED_KEYS[1] in d.names for d in docs),
            data_only=data_only,
            passphrase=self._crypto is not None,
        )

    def _uses_filename_format(self) -> bool:
        """True when a sample of names are not public names (``-f`` was used)."""
        for doc in self._index.docs[:50]:
            name = _unprefixed(doc.names.get(EXPORTED_KEYS[0], ""), "originals/")
            if not self._is_public_name(doc, name):
                return True
        return False

    def _is_public_name(self, doc: _Doc, name: str) -> bool:
        fields = doc.fields
        display = str(fields.get("created") or "")[:10]
        correspondent = fields.get("correspondent")
        if correspondent is not None:
            display += f" {self._index.correspondents.get(correspondent, '')}"
        if fields.get("title"):
            display += f" {fields['title']}"
        ext = file_type(fields.get("mime_type"))
        if name == sanitize_filename(display + ext, replacement_text="-"):
            return True
        match = re.fullmatch(r"(.*)_(\d{2,})" + re.escape(ext), name)
        return bool(match) and name == sanitize_filename(
            display + f"_{match.group(2)}" + ext, replacement_text="-"
        )

    def _set_format_names(self) -> None:
        seen: set[str] = set()
        by_pk: dict[str, dict[str, Any]] = {}
        for doc in self._index.docs:
            name = _unprefixed(doc.names.get(EXPORTED_KEYS[0], ""), "originals/")
            base = name
            ext = file_type(doc.fields.get("mime_type"))
            match = re.fullmatch(r"(.*)_\d{2,}" + re.escape(ext), name)
            if name != doc.fields.get("filename") and match and match.group(1) + ext in seen:
                base = match.group(1) + ext  # the exporter's counter, not part of the name
            seen.add(base)
            by_pk[json.dumps(doc.pk)] = {"format_name": base}
        for entry in self._index.entries.get(DOCUMENT, []):
            entry.extra = by_pk.get(entry.pk)

    def _sections(self) -> list[str]:
        """Known models in the exporter's query order, unknown ones after their neighbour."""
        present = self._index.models
        keyed: list[tuple[tuple[int, int], str]] = []
        for i, model in enumerate(present):
            if model in CANONICAL_SECTIONS:
                keyed.append(((CANONICAL_SECTIONS.index(model), -1), model))
            else:
                before = [m for m in present[:i] if m in CANONICAL_SECTIONS]
                anchor = CANONICAL_SECTIONS.index(before[-1]) if before else -1
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
            original = f.get("filename") or f"{_pk_str(doc.pk)}{file_type(f.get('mime_type'))}"
            wanted = [
                (
                    EXPORTED_KEYS[0],
                    "original",
                    f"documents/originals/{original}",
                    f.get("checksum"),
                ),
                (
                    EXPORTED_KEYS[1],
                    "thumbnail",
                    f"documents/thumbnails/{_pk_str(doc.pk)}.webp",
                    None,
                ),
            ]
            if f.get("archive_filename"):
                archive = f"documents/archive/{f['archive_filename']}"
                wanted.append((EXPORTED_KEYS[2], "archive", archive, f.get("archive_checksum")))
            for key, role, media, checksum in wanted:
                if key in doc.names:
                    claims.append(
                        (doc.names[key], _Claim(pk_json, DOCUMENT, role, media, checksum))
                    )
        for pk, file_path, name in self._index.bundles:
            media = f"documents/share_link_bundles/{file_path}"
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


def _framed_spans(f: IO[bytes]) -> list[tuple[int, int]] | None:
    """Offsets of the records in ``[`` + records joined by ``,\\n`` + ``\\n]``, or None."""
    f.seek(0)
    first = f.readline()
    if first == b"[\n":
        return [] if f.read() == b"]" else None
    if first != b"[{\n":
        return None
    spans: list[tuple[int, int]] = []
    start, pos = 1, len(first)
    while True:
        line = f.readline()
        if not line:
            return None
        pos += len(line)
        if line == b"},\n":
            spans.append((start, pos - 2 - start))
            start = pos
        elif line == b"}\n":
            if f.read() != b"]":
                return None
            spans.append((start, pos - 1 - start))
            return spans


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


def _unprefixed(name: str, prefix: str) -> str:
    return name[len(prefix) :] if name.startswith(prefix) else name


def _pk_str(pk: Any) -> str:
    return f"{pk:07}" if isinstance(pk, int) else str(pk)


def _moment(value: Any) -> tuple[int, Any]:
    """An ordering key for a serialized datetime (``...:01Z`` sorts before ``...:01.002Z``)."""
    try:
        return (0, datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())
    except ValueError:
        return (1, str(value))


def _pk_order(pk: Any) -> tuple[int, Any]:
    return (0, pk) if isinstance(pk, int) else (1, str(pk))


__all__ = ["ExportLayout", "ExportSource"]
