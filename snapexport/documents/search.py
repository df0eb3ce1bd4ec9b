"""``ls`` and ``find``: the documents one snapshot holds, and documents across all snapshots.

Both read the document index (``catalog/documents.py``), never every record text: a filter
or a query is one indexed SQL query, and results stream a batch at a time, so memory does
not grow with the site. ``ls`` names each document as ``document_exporter`` would (the
materialize ``Namer``, run over the snapshot's documents in export order, so counters match).
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from snapexport.catalog import documents as cat
from snapexport.catalog.content import batched
from snapexport.catalog.docindex import TAG_END
from snapexport.catalog.documents import Documents
from snapexport.documents.index import prepare
from snapexport.documents.naming import SnapshotNames
from snapexport.documents.profile import DocumentProfile, document_profile, store_profile
from snapexport.errors import RequestError
from snapexport.exportformat.naming import created_date as created_text
from snapexport.values import SnapshotMeta

if TYPE_CHECKING:
    from snapexport.store import Store

_BATCH = 500


def _pk(pk: str) -> Any:
    return int(pk) if pk.isdigit() else json.loads(pk)  # most pks are integers: no parser


class ListedDocument(NamedTuple):
    """One document of a snapshot, as ``ls`` shows it (a named tuple: ``ls`` makes one a
    document, and a frozen dataclass's __init__ costs several times more)."""

    pk: Any
    created: str | None
    title: str | None
    correspondent: str | None
    document_type: str | None
    tags: tuple[str, ...]
    asn: str | None
    checksum: str | None
    trashed: bool
    original: str
    archive: str | None
    thumbnail: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.pk, "created": self.created, "title": self.title,
            "correspondent": self.correspondent, "document_type": self.document_type,
            "tags": list(self.tags), "asn": self.asn, "checksum": self.checksum,
            "trashed": self.trashed, "original": self.original, "archive": self.archive,
            "thumbnail": self.thumbnail,
        }  # fmt: skip

    def line(self) -> str:
        tags = f" [{', '.join(self.tags)}]" if self.tags else ""
        trash = " (trashed)" if self.trashed else ""
        who = f" {self.correspondent}:" if self.correspondent else ""
        return f"{self.pk:>7}  {self.created or '':<10}{who} {self.title or ''}{tags}{trash}" \
               f"  -> {self.original}"  # fmt: skip


@dataclass(slots=True)
class Listing:
    """``ls``'s answer: the snapshot, the filters, and the documents (a stream)."""

    snapshot: SnapshotMeta
    filters: dict[str, str]
    documents: Iterator[ListedDocument]
    shown: int = 0

    def header_json(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot.id, "time": self.snapshot.time.isoformat(),
                "filters": self.filters}  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        """The whole listing as one object (holds every document: for small listings)."""
        return {**self.header_json(), "documents": [d.as_json() for d in self.documents]}


def list_documents(
    store: Store,
    spec: str = "latest",
    *,
    tag: str | None = None,
    correspondent: str | None = None,
    document_type: str | None = None,
    title: str | None = None,
    snapshot_tag: str | None = None,
) -> Listing:
    """The documents snapshot ``spec`` holds, filtered (names are matched case-insensitively,
    ``title`` is a shell glob, also case-insensitive)."""
    docs = store.catalog.documents
    meta = store.catalog.snapshots.resolve(spec, tag=snapshot_tag)
    profile = document_profile(meta)
    prepare(store, profile)
    rows = docs.versions_alive(meta.seq, profile.document,
        tag=_filter_pks(docs, profile.tags.model, tag, "tag"),
        correspondent=_filter_pks(docs, profile.correspondent.model, correspondent,
                                  "correspondent"),
        document_type=_filter_pks(docs, profile.document_type.model, document_type,
                                  "document type"),
        title=re.compile(fnmatch.translate(title), re.IGNORECASE) if title else None,
    )  # fmt: skip
    filters = {k: v for k, v in (("tag", tag), ("correspondent", correspondent),
                                 ("type", document_type), ("title", title)) if v}  # fmt: skip
    return Listing(meta, filters, _listed(docs, meta, profile, rows))


def _filter_pks(docs: Documents, model: str, name: str | None, what: str) -> list[str] | None:
    if name is None:
        return None
    pks = docs.name_pks(model, name)
    if not pks:
        raise RequestError(f"no {what} is called {name!r} in any snapshot: check the spelling"
                         " (snapexport ls lists documents with their names)")  # fmt: skip
    return pks


def _listed(
    docs: Documents, meta: SnapshotMeta, profile: DocumentProfile, rows: Iterator[cat.AliveRow]
) -> Iterator[ListedDocument]:
    names = SnapshotNames(docs, meta, profile)
    related: dict[str, dict[str, str]] = {"correspondent": {}, "document_type": {}, "tags": {}}
    tag_names: dict[str, tuple[str, ...]] = {}  # a version's tags column -> sorted names
    corr, types, tz = related["correspondent"], related["document_type"], names.tz
    for batch in batched(rows, _BATCH):
        _add_related_names(related, docs, profile, meta.seq, batch, tag_names)
        for v in batch:
            original, thumbnail, archive = names.files(v)
            tags = tag_names.get(v.tags)
            if tags is None:
                tags = tag_names[v.tags] = _tag_names(v.tags, related["tags"])
            yield _new_listed((
                _pk(v.pk), created_text(v.created, tz), v.title, corr.get(v.correspondent or ""),
                types.get(v.document_type or ""), tags, v.asn, v.checksum,
                v.deleted_at is not None, original, archive, thumbnail,
            ))  # fmt: skip


_new_listed = ListedDocument._make  # positional: a listing makes 100,000


def _tag_pks(tags: str) -> list[str]:
    return tags.split(TAG_END)[:-1]


def _tag_names(tags: str, known: dict[str, str]) -> tuple[str, ...]:
    """A version's tag names, sorted (a tag without a name shows as ``#pk``)."""
    return tuple(sorted(known.get(t, f"#{t}") for t in _tag_pks(tags)))


def _add_related_names(
    known: dict[str, dict[str, str]], docs: Documents, profile: DocumentProfile, seq: int,
    batch: list[cat.AliveRow], tag_names: dict[str, tuple[str, ...]],
) -> None:  # fmt: skip
    """Add to ``known`` the names (as snapshot ``seq`` held them) of the correspondents,
    types and tags this batch refers to that no earlier batch did: a site has a few hundred
    of them, so after the first batches there is rarely anything left to look up."""
    wanted = {
        "correspondent": (profile.correspondent.model, {v.correspondent for v in batch}),
        "document_type": (profile.document_type.model, {v.document_type for v in batch}),
        "tags": (
            profile.tags.model,  # tag sets named before need no lookup
            {t for v in batch if v.tags not in tag_names for t in _tag_pks(v.tags)},
        ),
    }
    for kind, (model, pks) in wanted.items():
        names = known[kind]
        missing = [pk for pk in pks if pk and pk not in names]
        if missing:
            names.update(docs.names_at(model, missing, seq))


# -- find ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Held:
    """A snapshot, as find/history name it."""

    id: str
    time: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time}


class Timeline:
    """The store's live snapshots by sequence number: which of them a span lies in."""

    def __init__(self, metas: list[SnapshotMeta]) -> None:
        self.metas = sorted(metas, key=lambda m: m.seq)
        self.seqs = [m.seq for m in self.metas]
        self.helds = [Held(m.id, m.time.isoformat()) for m in self.metas]  # made once

    def held(self, born: int, died: int | None) -> tuple[Held, Held, int] | None:
        """First and last live snapshot in ``[born, died)`` and how many; None if none."""
        lo = bisect.bisect_left(self.seqs, born)
        hi = len(self.seqs) if died is None else bisect.bisect_left(self.seqs, died)
        if lo >= hi:
            return None
        return self.helds[lo], self.helds[hi - 1], hi - lo

    def first_from(self, seq: int) -> Held | None:
        """The first live snapshot at or after ``seq``."""
        i = bisect.bisect_left(self.seqs, seq)
        return self.helds[i] if i < len(self.seqs) else None

    @property
    def newest(self) -> SnapshotMeta | None:
        return self.metas[-1] if self.metas else None


@dataclass(frozen=True, slots=True)
class FoundVersion:
    """One stored version of a found document and the snapshots holding it."""

    title: str | None
    checksum: str | None
    trashed: bool
    first: Held
    last: Held
    snapshots: int

    def as_json(self) -> dict[str, Any]:
        return {"title": self.title, "checksum": self.checksum, "trashed": self.trashed,
                "first": self.first.as_json(), "last": self.last.as_json(),
                "snapshots": self.snapshots}  # fmt: skip


@dataclass(slots=True)
class FoundDocument:
    """A document matching a query: its versions, and whether it is still in the newest."""

    pk: Any
    versions: list[FoundVersion] = field(default_factory=list)
    state: str = "present"  # 'present' | 'trashed' | 'deleted'
    gone_in: Held | None = None  # deleted: the first snapshot no longer holding it

    def as_json(self) -> dict[str, Any]:
        return {"id": self.pk, "state": self.state,
                "deleted_in": self.gone_in.as_json() if self.gone_in else None,
                "versions": [v.as_json() for v in self.versions]}  # fmt: skip

    def lines(self) -> Iterator[str]:
        title = self.versions[-1].title if self.versions else ""
        state = {"present": "", "trashed": " (trashed)"}.get(self.state, "")
        if self.state == "deleted" and self.gone_in is not None:
            state = f" (deleted: gone from snapshot {self.gone_in.id[:8]} {self.gone_in.time})"
        yield f"document {self.pk} {json.dumps(title, ensure_ascii=False)}{state}"
        for v in self.versions:
            span = f"{v.first.id[:8]} {v.first.time[:19]}"
            if v.snapshots > 1:
                span += f" .. {v.last.id[:8]} {v.last.time[:19]}"
            yield f"  {v.snapshots:>4} snapshot(s) {span}  sha256 {(v.checksum or '')[:12]}" \
                  f"  {json.dumps(v.title, ensure_ascii=False)}"  # fmt: skip


@dataclass(slots=True)
class FindResult:
    query: str
    documents: Iterator[FoundDocument]

    def header_json(self) -> dict[str, Any]:
        return {"query": self.query}

    def as_json(self) -> dict[str, Any]:
        return {**self.header_json(), "documents": [d.as_json() for d in self.documents]}


_HEX = re.compile(r"^[0-9a-fA-F]{6,64}$")


def find_documents(store: Store, query: str) -> FindResult:
    """Documents in any snapshot whose title, original name, ASN, correspondent, tag,
    checksum (prefix, 6+ hex digits) or content (words) match ``query``."""
    query = query.strip()
    if not query:
        raise RequestError("find needs a non-empty QUERY (a word of a title, a tag, a checksum...)")
    docs = store.catalog.documents
    timeline = Timeline(store.catalog.snapshots.all())
    profile = store_profile({m.profile for m in timeline.metas})
    prepare(store, profile)
    words = re.findall(r"\w+", query)
    fts = " ".join('"' + w.replace('"', '""') + '"' for w in words) or None
    rows = docs.find_versions(profile.document, query,
        name_models=(profile.correspondent.model, profile.tags.model), fts_query=fts,
        checksum_prefix=query.lower() if _HEX.match(query) else None,
    )  # fmt: skip
    return FindResult(query, _grouped(rows, timeline))


def _grouped(rows: Iterator[cat.VersionRow], timeline: Timeline) -> Iterator[FoundDocument]:
    doc: FoundDocument | None = None
    last_died: int | None = -1
    for v in rows:
        if doc is None or _pk(v.pk) != doc.pk:
            if doc is not None and doc.versions:
                yield _finish(doc, last_died, timeline)
            doc = FoundDocument(_pk(v.pk))
        held = timeline.held(v.born, v.died)
        last_died = v.died
        if held is None:
            continue  # a version no remaining snapshot holds (forgotten)
        first, last, n = held
        doc.versions.append(
            FoundVersion(v.title, v.checksum, v.deleted_at is not None, first, last, n)
        )
    if doc is not None and doc.versions:
        yield _finish(doc, last_died, timeline)


def _finish(doc: FoundDocument, died: int | None, timeline: Timeline) -> FoundDocument:
    newest = timeline.newest
    if died is not None:
        doc.state = "deleted"
        doc.gone_in = timeline.first_from(died)
    elif newest is not None and doc.versions[-1].last.id != newest.id:
        doc.state = "deleted"  # current span, but the newest snapshot was forgotten
    elif doc.versions[-1].trashed:
        doc.state = "trashed"
    return doc
