"""``history``: one document's timeline across the store's snapshots.

Each stored version of the document record is compared with the one before it by diff's own
field comparison (``diff.record_field_changes``, names resolved as ``diff --fields`` shows
them) and classified as diff classifies it (trashed, restored, content or metadata changed).
File versions (original, archive, thumbnail) and the document's parts (notes, custom field
instances) add their own entries; the last entry says when the document was deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from snapexport.catalog.documents import Documents
from snapexport.catalog.records import decode_text
from snapexport.diff import FieldChange, document_change, record_field_changes
from snapexport.documents.index import prepare
from snapexport.documents.profile import store_profile
from snapexport.documents.search import Held, Timeline
from snapexport.errors import RequestError

if TYPE_CHECKING:
    from snapexport.store import Store


@dataclass(slots=True)
class Event:
    """One change of the document, dated by the first snapshot that shows it."""

    snapshot: Held
    kind: str  # 'added' | 'metadata changed' | 'content changed' | 'trashed' | 'restored' |
    #            'file' | 'notes' | 'custom fields' | 'deleted'
    what: list[str] = field(default_factory=list)
    fields: list[FieldChange] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot.as_json(),
            "kind": self.kind,
            "what": self.what,
            "fields": [
                {"name": f.name, "before": f.before, "after": f.after,
                 "added": list(f.added), "removed": list(f.removed)}
                for f in self.fields
            ],
        }  # fmt: skip

    def lines(self) -> Iterator[str]:
        what = f": {', '.join(self.what)}" if self.what else ""
        yield f"{self.snapshot.time[:19]}  {self.snapshot.id[:8]}  {self.kind}{what}"
        for f in self.fields:
            yield f"      {f.describe()}"


@dataclass(slots=True)
class History:
    pk: Any
    title: str | None
    events: list[Event]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.pk, "title": self.title, "events": [e.as_json() for e in self.events]}

    def lines(self) -> Iterator[str]:
        yield f"document {self.pk} {json.dumps(self.title, ensure_ascii=False)}"
        for e in self.events:
            yield from e.lines()


def parse_document_id(text: str) -> str:
    """A document id as typed (``42``) to the catalog's JSON pk (``42``)."""
    text = text.strip()
    if text.isdigit():
        return json.dumps(int(text))
    raise RequestError(f"{text!r} is not a document id: give the number find or ls shows")


def document_history(store: Store, document: str) -> History:
    """The timeline of one document (its id as typed) across every snapshot."""
    docs = store.catalog.documents
    timeline = Timeline(store.catalog.snapshots.all())
    profile = store_profile({m.profile for m in timeline.metas})
    prepare(store, profile)
    pk = parse_document_id(document)
    versions = [v for v in docs.versions_of(profile.document, pk)
                if timeline.held(v.born, v.died) is not None]  # fmt: skip
    if not versions:
        raise RequestError(f"no snapshot holds document {document}: search for it with"
                         " snapexport find QUERY")  # fmt: skip
    events: list[tuple[int, int, Event]] = []
    files = _file_events(docs, profile.document, pk, timeline)
    before: dict[str, Any] = {}
    prev_seq = 0
    for i, v in enumerate(versions):
        first = timeline.first_from(v.born)
        assert first is not None  # held() said so
        after = _fields(docs, v.span)
        if i == 0:
            events.append((v.born, 0, Event(first, "added", [f"title {json.dumps(v.title)}"])))
        else:
            kind, what = document_change(before, after, files.get(v.born, {}), set())
            changes = record_field_changes(
                store.catalog.changes, max(prev_seq, v.born - 1), v.born, before, after
            )
            events.append((v.born, 0, Event(first, kind, what, changes)))
        before, prev_seq = after, v.born
    last = versions[-1]
    quiet = {versions[0].born, last.died}  # files and parts come and go with the document
    for seq, roles in files.items():
        held = timeline.first_from(seq)
        if held is not None and seq not in quiet:
            what = [f"{role} {kind}" for role, kind in sorted(roles.items())]
            events.append((seq, 1, Event(held, "files", what)))
    events.extend(e for e in _part_events(docs, pk, timeline) if e[0] not in quiet)
    if last.died is not None:
        gone = timeline.first_from(last.died)
        if gone is not None:
            events.append((last.died, 3, Event(gone, "deleted")))
    events.sort(key=lambda e: (e[0], e[1]))
    return History(json.loads(pk), last.title, [e for _, _, e in events])


def _fields(docs: Documents, span: int) -> dict[str, Any]:
    row = docs.span_record(span)
    if row is None:
        return {}
    fields: dict[str, Any] = json.loads(decode_text(row[0])).get("fields", {})
    return fields


def _file_events(
    docs: Documents, model: str, pk: str, timeline: Timeline
) -> dict[int, dict[str, str]]:
    """seq -> {role: 'added' | 'changed' | 'moved' | 'removed'} for the document's files."""
    out: dict[int, dict[str, str]] = {}
    last: dict[str, tuple[str, bytes, int | None]] = {}
    for role, path, blob, _size, _checksum, born, died in docs.file_versions(model, pk):
        prev = last.get(role)
        if prev is None or (prev[2] is not None and prev[2] < born):
            kind = "added"
        elif prev[1] == blob:
            kind = "moved" if prev[0] != path else "unchanged"
        else:
            kind = "changed"
        if kind != "unchanged":
            out.setdefault(born, {})[role] = kind
        last[role] = (path, blob, died)
    for role, (_path, _blob, died) in last.items():
        if died is not None:
            out.setdefault(died, {})[role] = "removed"
    return out


def _part_events(docs: Documents, pk: str, timeline: Timeline) -> Iterator[tuple[int, int, Event]]:
    """Notes and custom field instances added, changed or removed (from their own spans)."""
    by_seq: dict[int, dict[tuple[str, str], set[str]]] = {}
    for model, part_pk, born, died in docs.part_spans(pk):
        key = (model.split(".")[-1], part_pk)
        by_seq.setdefault(born, {}).setdefault(key, set()).add("born")
        if died is not None:
            by_seq.setdefault(died, {}).setdefault(key, set()).add("died")
    for seq, parts in sorted(by_seq.items()):
        held = timeline.first_from(seq)
        if held is None:
            continue
        what = []
        for (label, part_pk), marks in sorted(parts.items()):
            kind = "changed" if len(marks) == 2 else "added" if "born" in marks else "removed"
            what.append(f"{label} {part_pk} {kind}")
        yield seq, 2, Event(held, "parts", what)
