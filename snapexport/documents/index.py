"""Keeping the document index (``catalog/documents.py``) up to date before a question.

The index is a cache: ``documents.sqlite`` in the store's cache folder (``cache_dir``), never
inside the store and never published with the catalog. Each command first indexes the
record spans added since the last one (a night's worth after a night), decoding them a
batch at a time, then attaches the file to the catalog connection. Two commands refreshing
at once are safe: a batch is committed only if the watermark it started from still holds.
Where the cache folder cannot be written, a temporary index is built for this run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from snapexport.catalog import docindex
from snapexport.catalog.documents import Documents
from snapexport.catalog.records import decode_text
from snapexport.documents.naming import alone, facts
from snapexport.documents.profile import DocumentProfile
from snapexport.exportformat.naming import DocumentNames
from snapexport.exportformat.naming import file_type as mime_extension
from snapexport.store.location import cache_dir

if TYPE_CHECKING:
    from snapexport.store import Store

INDEX_FILE = "documents.sqlite"
_BATCH = 2000


def index_path(store: Store) -> Path:
    """Where this store's document index lives (created private, 0700)."""
    folder = cache_dir(store.config.store_id)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.access(folder, os.W_OK):
            return folder / INDEX_FILE
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="snapexport-index-")) / INDEX_FILE


def prepare(store: Store, profile: DocumentProfile) -> int:
    """Index what is new and attach the index; returns how many spans were indexed."""
    path = index_path(store)
    index = docindex.open_index(path)
    try:
        added = refresh(store.catalog.documents, index, profile)
    finally:
        index.close()
    store.catalog.documents.attach(path)
    return added


def refresh(docs: Documents, index: sqlite3.Connection, profile: DocumentProfile) -> int:
    """Index every span newer than the watermark, a batch per transaction.

    The watermark is the highest span id indexed and that span's hash. Span ids are only
    reused after the highest spans are deleted (prune), and then the watermark span is gone
    or different: the index starts over rather than miss the reused ids.
    """
    added = 0
    while True:
        mark = docindex.watermark(index)
        if mark[0] and docs.span_hash(mark[0]) != mark[1]:
            docindex.reset_index(index)
            continue
        top = docs.highest_span()
        batch = _Batch(profile, docs)
        ok = True
        for span, model, pk, h, data, extra, born in docs.spans_after(
            mark[0], top, profile.indexed_models
        ):
            batch.add(span, model, pk, bytes(h), decode_text(data), extra, born)
            if batch.size >= _BATCH:
                new_mark = (span, bytes(h).hex())
                ok = batch.commit(index, mark, new_mark)
                if not ok:
                    break
                added += batch.size
                mark = new_mark
                batch = _Batch(profile, docs)
        if ok and (batch.size or mark[0] < top):
            ok = batch.commit(index, mark, (top, docs.span_hash(top)))
            added += batch.size
        if ok:
            return added


class _Batch:
    """Index rows decoded from one batch of spans."""

    def __init__(self, profile: DocumentProfile, docs: Documents) -> None:
        self.p = profile
        self.docs = docs
        self.version_names: list[tuple[str, int]] = []
        self.name_owners: list[tuple[str, str]] = []
        self._zones: dict[int, tuple[str, Any]] = {}
        self._corr: dict[tuple[str, int], str | None] = {}
        self._alone: dict[Any, tuple[DocumentNames, bool]] = {}
        self.names = profile.named_models
        self.versions: list[tuple[Any, ...]] = []
        self.tags: list[tuple[str, int]] = []
        self.named: list[tuple[Any, ...]] = []
        self.parts: list[tuple[Any, ...]] = []
        self.texts: list[tuple[int, str]] = []
        self.size = 0

    def add(
        self, span: int, model: str, pk: str, h: bytes, text: str, extra: str | None, born: int
    ) -> None:
        self.size += 1
        fields: dict[str, Any] = json.loads(text).get("fields", {})
        p = self.p
        if model == p.document:
            self._document(span, pk, h, fields, json.loads(extra) if extra else {}, born)
        if model in self.names:
            name = fields.get(self.names[model])
            if name is not None:
                self.named.append((span, h, model, pk, str(name), str(name).casefold()))
        if model in p.parts and fields.get(p.parts[model]) is not None:
            self.parts.append((span, h, model, json.dumps(fields[p.parts[model]])))

    def _document(
        self, span: int, pk: str, h: bytes, f: dict[str, Any], extra: dict[str, Any], born: int
    ) -> None:
        p = self.p
        asn = f.get(p.asn)
        mime = f.get(p.mime_type)
        title = f.get(p.title)
        original = f.get(p.original_filename)
        folded = "\n".join(str(v) for v in (title, original, asn) if v is not None).casefold()
        corr_pk = _key(f.get(p.correspondent.field))
        ext = extra.get("file_type") or mime_extension(mime)
        has_archive = f.get(p.archive_filename) is not None
        tags = sorted({json.dumps(tag) for tag in f.get(p.tags.field) or ()})
        corr = self._correspondent(corr_pk, born)
        _zone_name, zone = self._zone(born)
        doc = facts(json.loads(pk), f.get(p.created), corr, title, mime, has_archive, ext, zone)
        key = dataclasses.replace(doc, pk=None)  # names do not depend on the pk
        if key not in self._alone:
            self._alone[key] = alone(doc)
        names, unsure = self._alone[key]
        created = _text(f.get(p.created))
        unsure = unsure or len(created or "") > 10  # a date-time: named in each snapshot's zone
        self.versions.append((
            span, h, pk, title, corr_pk, _key(f.get(p.document_type.field)),
            None if asn is None else str(asn), original, f.get(p.checksum),
            f.get(p.archive_checksum), created, _text(f.get(p.deleted_at)),
            mime, ext, int(has_archive), "".join(t + docindex.TAG_END for t in tags), folded,
            names.original, names.thumbnail, names.archive, corr, int(unsure),
        ))  # fmt: skip
        for name in (names.original, names.thumbnail, names.archive):
            if name:
                self.version_names.append((name, span))
                self.name_owners.append((name, pk))
        self.tags.extend((tag, span) for tag in tags)
        content = f.get(p.content)
        if content:
            self.texts.append((span, str(content)))

    def _correspondent(self, pk: str | None, seq: int) -> str | None:
        """The correspondent's name as the snapshot the version was born in held it."""
        if pk is None:
            return None
        key = (pk, seq)
        if key not in self._corr:
            row = self.docs.record_at(self.p.correspondent.model, pk, seq)
            name = None
            if row is not None:
                name = (
                    json.loads(decode_text(row[0]))
                    .get("fields", {})
                    .get(self.p.correspondent.name_field)
                )
            self._corr[key] = None if name is None else str(name)
        return self._corr[key]

    def _zone(self, seq: int) -> tuple[str, Any]:
        """The site's time zone as recorded by the first snapshot from ``seq`` on."""
        if seq not in self._zones:
            name = self.docs.time_zone_from(seq) or "UTC"
            try:
                zone: Any = ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                zone = ZoneInfo("UTC")
            self._zones[seq] = (name, zone)
        return self._zones[seq]

    def commit(
        self, index: sqlite3.Connection, start: tuple[int, str], new_watermark: tuple[int, str]
    ) -> bool:
        return docindex.add_rows(
            index,
            expect=start,
            versions=self.versions,
            tags=self.tags,
            version_names=self.version_names,
            name_owners=self.name_owners,
            names=self.named,
            parts=self.parts,
            texts=self.texts,
            new_watermark=new_watermark,
        )


def _key(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
