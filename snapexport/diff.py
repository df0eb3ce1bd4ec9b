"""What changed between two snapshots, computed from the catalog's spans alone.

For snapshots A (older) and B, the spans alive in A but not in B all died in ``(A, B]``
and the spans alive in B but not in A were all born in ``(A, B]``: two indexed range
queries whose size is the number of changes, not the size of the site. Unchanged records
are never read, so memory does not grow with them. Changes are listed documents first,
then by model, each by numeric pk. Changed records are decoded a bounded batch at a time,
so memory does not grow with the changes' texts either. Names shown for related records
(tags, correspondents, ...) are looked up in bulk per batch, mostly through the index of
current spans.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from snapexport.catalog.changes import Changes
from snapexport.catalog.content import batched
from snapexport.catalog.records import decode_text
from snapexport.values import SnapshotMeta

DOCUMENT = "documents.document"
# Records that belong to a document and whose change is a change of that document.
_DOCUMENT_PARTS = {"documents.note": "notes", "documents.customfieldinstance": "custom fields"}
# M2M fields whose pks we name (model of the targets, field that names them).
_NAMED = {"tags": ("documents.tag", "name"), "documents": (DOCUMENT, "title")}
_FK_NAMED = {
    "correspondent": ("documents.correspondent", "name"),
    "document_type": ("documents.documenttype", "name"),
    "storage_path": ("documents.storagepath", "name"),
    "owner": ("auth.user", "username"),
    "user": ("auth.user", "username"),
    "field": ("documents.customfield", "name"),
}
# Document fields that describe its files, not its metadata.
_CONTENT_FIELDS = {"checksum": "original", "archive_checksum": "archive"}
# The only attributes name() reads: the name cache keeps these, not whole records.
_NAME_ATTRS = frozenset(attr for _, attr in (*_NAMED.values(), *_FK_NAMED.values()))
_QUIET_FIELDS = {"modified"}  # shown only when nothing else changed
_BATCH = 500  # pks per IN (...) query
# Changed records decoded and held at once: at most this many, or until their texts reach
# _BATCH_CHARS characters (a document's OCR text can be large).
_CHANGE_BATCH = 200
_BATCH_CHARS = 2_000_000


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of one record, before and after (M2M: names added and removed)."""

    name: str
    before: Any = None
    after: Any = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.added or self.removed:
            parts = [f"+{n}" for n in self.added] + [f"-{n}" for n in self.removed]
            return f"{self.name}: {' '.join(parts)}"
        return f"{self.name}: {_show(self.before)} → {_show(self.after)}"


@dataclass(frozen=True, slots=True)
class Change:
    """One record (or document) that differs between the two snapshots."""

    kind: str  # 'added' | 'removed' | 'changed' | documents: 'trashed' | 'restored' |
    #            'content changed' | 'metadata changed'
    model: str
    pk: str  # JSON encoding of the primary key
    label: str
    what: tuple[str, ...] = ()  # documents: 'content (original)', 'metadata (title)', 'notes'
    fields: tuple[FieldChange, ...] = ()

    @property
    def mark(self) -> str:
        return {"added": "+", "removed": "-"}.get(self.kind, "M")


@dataclass(slots=True)
class SnapshotDiff:
    """The whole difference, with per-model counts."""

    a: SnapshotMeta
    b: SnapshotMeta
    changes: list[Change] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)

    @property
    def documents(self) -> dict[str, int]:
        return self.counts.get(DOCUMENT, {})

    def is_empty(self) -> bool:
        return not self.changes and not any(self.files.values())

    def count(self, model: str, kind: str) -> None:
        counts = self.counts.setdefault(model, {})
        counts[kind] = counts.get(kind, 0) + 1

    def as_json(self) -> dict[str, Any]:
        return {
            "a": self.a.id,
            "b": self.b.id,
            "documents": self.documents,
            "models": self.counts,
            "files": self.files,
            "changes": [
                {
                    "kind": c.kind,
                    "model": c.model,
                    "pk": json.loads(c.pk),
                    "label": c.label,
                    "what": list(c.what),
                    "fields": [
                        {
                            "name": f.name,
                            "before": f.before,
                            "after": f.after,
                            "added": list(f.added),
                            "removed": list(f.removed),
                        }
                        for f in c.fields
                    ],
                }
                for c in self.changes
            ],
        }


def _show(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + '..."'


def _pk_order(pk_json: str) -> tuple[int, int, str]:
    """Numeric pks by value (2 before 10), others by text after them."""
    pk = json.loads(pk_json)
    return (0, pk, "") if isinstance(pk, int) else (1, 0, str(pk))


def _changed_spans(changes: Changes, a: int, b: int) -> dict[tuple[str, str], list[Any]]:
    """(model, pk) -> [hash in A or None, hash in B or None] for every differing record."""
    out: dict[tuple[str, str], list[Any]] = {}
    for model, pk, h in changes.records_only_in(a, b):
        out.setdefault((model, pk), [None, None])[0] = h
    for model, pk, h in changes.records_only_in(b, a):
        out.setdefault((model, pk), [None, None])[1] = h
    return {k: v for k, v in out.items() if v[0] != v[1]}


FileKey = tuple[str | None, str | None, str]  # (owner model, owner pk or path, role)


def _changed_files(changes: Changes, a: int, b: int) -> dict[FileKey, list[Any]]:
    """Per owned file (owner, role) or unowned path: [(path, blob) in A or None, in B]."""
    out: dict[FileKey, list[Any]] = {}
    for side, (x, y) in enumerate(((a, b), (b, a))):
        for path, blob, role, owner_model, owner_pk in changes.files_only_in(x, y):
            key = (owner_model, owner_pk, role) if owner_model else (None, path, role)
            out.setdefault(key, [None, None])[side] = (path, blob)
    return {k: v for k, v in out.items() if v[0] != v[1]}


class _Texts:
    """Record texts by hash, and the names of related records (resolved in bulk).

    ``changed`` maps every differing record to its hashes in A and B, so a name of a
    changed record is read by hash without a span lookup. The name cache holds one
    batch of records at a time: :meth:`clear` drops it before the next batch.
    """

    def __init__(self, changes: Changes, a: int, changed: dict[tuple[str, str], list[Any]]) -> None:
        self.changes = changes
        self._a = a
        self._changed = changed
        self._names: dict[tuple[int, str, str], dict[str, Any]] = {}
        self._wanted: set[tuple[int, str, str]] = set()
        self.chars = 0  # characters of record text decoded since the last clear()

    def fields(self, h: bytes | None) -> dict[str, Any]:
        if h is None:
            return {}
        data = self.changes.record_text(h)
        if data is None:
            return {}
        text = decode_text(data)
        self.chars += len(text)
        fields: dict[str, Any] = json.loads(text).get("fields", {})
        return fields

    def clear(self) -> None:
        self._names.clear()
        self._wanted.clear()
        self.chars = 0

    def want(self, seq: int, model: str, pk: Any) -> None:
        key = (seq, model, json.dumps(pk))
        if key not in self._names:
            self._wanted.add(key)

    def resolve(self) -> None:
        """Fetch every wanted record: changed ones by hash, then current spans, then one
        model scan for the rest."""
        groups: dict[tuple[int, str], set[str]] = {}
        for seq, model, pk in self._wanted:
            hashes = self._changed.get((model, pk))
            if hashes is not None:  # differs between A and B: its hash at seq is at hand
                self._keep((seq, model, pk), hashes[0 if seq == self._a else 1])
            else:
                groups.setdefault((seq, model), set()).add(pk)
        self._wanted.clear()
        for (seq, model), pks in sorted(groups.items()):
            found: dict[str, bytes] = {}
            todo = sorted(pks)
            for i in range(0, len(todo), _BATCH):
                for pk, born, h in self.changes.current_hashes(model, todo[i : i + _BATCH]):
                    if born <= seq:
                        found[pk] = h
            rest = pks - set(found)
            if rest:  # the record changed after seq (or is gone): scan the model once
                for pk, h in self.changes.hashes_at(model, seq):
                    if pk in rest:
                        found[pk] = h
            for pk in pks:
                self._keep((seq, model, pk), found.get(pk))

    def _keep(self, key: tuple[int, str, str], h: bytes | None) -> None:
        fields = self.fields(h)
        self._names[key] = {k: v for k, v in fields.items() if k in _NAME_ATTRS}

    def name(self, seq: int, model: str, pk: Any, attr: str) -> str:
        fields = self._names.get((seq, model, json.dumps(pk))) or {}
        value = fields.get(attr)
        return str(value) if value is not None else f"#{pk}"


def _label(model: str, pk: str, f: dict[str, Any]) -> str:
    for attr in ("title", "name", "username", "slug", "codename"):
        if f.get(attr):
            name = json.dumps(f[attr], ensure_ascii=False)
            return f"{model.split('.')[-1]} {json.loads(pk)} {name}"
    return f"{model.split('.')[-1]} {json.loads(pk)}"


def _changed_field_names(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [n for n in dict.fromkeys([*before, *after]) if before.get(n) != after.get(n)]


def _want_names(
    texts: _Texts, a: int, b: int, before: dict[str, Any], after: dict[str, Any]
) -> None:
    for name in _changed_field_names(before, after):
        old, new = before.get(name), after.get(name)
        if name in _NAMED and isinstance(old, list) and isinstance(new, list):
            target = _NAMED[name][0]
            for p in new:
                texts.want(b, target, p)
            for p in old:
                texts.want(a, target, p)
        elif name in _FK_NAMED:
            target = _FK_NAMED[name][0]
            if old is not None:
                texts.want(a, target, old)
            if new is not None:
                texts.want(b, target, new)


def _field_changes(
    texts: _Texts, a: int, b: int, before: dict[str, Any], after: dict[str, Any]
) -> list[FieldChange]:
    out = []
    for name in _changed_field_names(before, after):
        old, new = before.get(name), after.get(name)
        if isinstance(old, list) and isinstance(new, list) and name in _NAMED:
            target, attr = _NAMED[name]
            added = tuple(texts.name(b, target, p, attr) for p in new if p not in old)
            removed = tuple(texts.name(a, target, p, attr) for p in old if p not in new)
            if added or removed:
                out.append(FieldChange(name, added=added, removed=removed))
            else:
                out.append(FieldChange(name, before=old, after=new))  # order only
        elif name in _FK_NAMED:
            target, attr = _FK_NAMED[name]
            out.append(
                FieldChange(
                    name,
                    before=None if old is None else texts.name(a, target, old, attr),
                    after=None if new is None else texts.name(b, target, new, attr),
                )
            )
        else:
            out.append(FieldChange(name, before=old, after=new))
    return out


def _document_parts(
    texts: _Texts, changed: dict[tuple[str, str], list[Any]]
) -> dict[str, set[str]]:
    """Document pk -> {'notes', 'custom fields'} whose part records differ (a light pass:
    only the ``document`` field of each part record is kept)."""
    out: dict[str, set[str]] = {}
    for (model, _pk), (h_a, h_b) in changed.items():
        if model in _DOCUMENT_PARTS:
            doc = (texts.fields(h_b) or texts.fields(h_a)).get("document")
            if doc is not None:
                out.setdefault(json.dumps(doc), set()).add(_DOCUMENT_PARTS[model])
    return out


_Raw = tuple[str, str, dict[str, Any], dict[str, Any], str]  # model, pk, before, after, kind


def _add_changes(
    result: SnapshotDiff,
    texts: _Texts,
    raws: list[_Raw],
    doc_files: dict[str, dict[str, str]],
    doc_parts: dict[str, set[str]],
) -> None:
    """Turn one batch of changed records into Change objects (names resolved in bulk)."""
    a, b = result.a.seq, result.b.seq
    texts.resolve()
    for model, pk, before, after, raw_kind in raws:
        what: list[str] = []
        kind = raw_kind
        if model == DOCUMENT and kind == "changed":
            kind, what = _document_change(
                before, after, doc_files.pop(pk, {}), doc_parts.pop(pk, set())
            )
        elif model == DOCUMENT:
            doc_files.pop(pk, None)
            doc_parts.pop(pk, None)
        result.count(model, kind)
        changes = ()
        if raw_kind == "changed":
            changes = tuple(_field_changes(texts, a, b, before, after))
        label = _label(model, pk, after or before)
        result.changes.append(Change(kind, model, pk, label, tuple(what), changes))


def diff_snapshots(changes: Changes, a: SnapshotMeta, b: SnapshotMeta) -> SnapshotDiff:
    """Compare snapshot ``a`` with snapshot ``b`` (either may be the older one).

    Changed records are handled in batches (``_CHANGE_BATCH`` records or ``_BATCH_CHARS``
    characters of text): their texts are decoded, the names they refer to resolved, their
    small :class:`Change` objects built, and the decoded fields dropped before the next
    batch, so memory holds one batch of record texts, not every changed record's.
    """
    result = SnapshotDiff(a, b)
    changed = _changed_spans(changes, a.seq, b.seq)
    texts = _Texts(changes, a.seq, changed)
    doc_files = _file_changes(changes, a.seq, b.seq, result)
    doc_parts = _document_parts(texts, changed)

    texts.clear()
    raws: list[_Raw] = []
    for (model, pk), (h_a, h_b) in changed.items():
        before, after = texts.fields(h_a), texts.fields(h_b)
        kind = "added" if h_a is None else "removed" if h_b is None else "changed"
        raws.append((model, pk, before, after, kind))
        if kind == "changed":
            _want_names(texts, a.seq, b.seq, before, after)
        if len(raws) >= _CHANGE_BATCH or texts.chars >= _BATCH_CHARS:
            _add_changes(result, texts, raws, doc_files, doc_parts)
            raws = []
            texts.clear()
    _add_changes(result, texts, raws, doc_files, doc_parts)
    del raws
    # Documents whose own record is unchanged but whose files or parts changed.
    for batch in batched(set(doc_parts) | set(doc_files), _CHANGE_BATCH):
        texts.clear()
        for pk in batch:
            texts.want(b.seq, DOCUMENT, json.loads(pk))
        texts.resolve()
        for pk in batch:
            kind, what = _document_change({}, {}, doc_files.get(pk, {}), doc_parts.get(pk, set()))
            result.count(DOCUMENT, kind)
            title = texts.name(b.seq, DOCUMENT, json.loads(pk), "title")
            label = _label(DOCUMENT, pk, {"title": title})
            result.changes.append(Change(kind, DOCUMENT, pk, label, tuple(what)))
    texts.clear()
    result.changes.sort(key=lambda c: (c.model != DOCUMENT, c.model, _pk_order(c.pk)))
    return result


def _file_changes(
    changes: Changes, a: int, b: int, result: SnapshotDiff
) -> dict[str, dict[str, str]]:
    """Count file changes; returns document pk -> {role: 'added'|'removed'|'changed'|'moved'}."""
    by_doc: dict[str, dict[str, str]] = {}
    for (owner_model, owner, role), (old, new) in _changed_files(changes, a, b).items():
        if old is None:
            kind = "added"
        elif new is None:
            kind = "removed"
        elif old[1] == new[1]:
            kind = "moved"
        else:
            kind = "changed"
        result.files[kind] = result.files.get(kind, 0) + 1
        if owner_model == DOCUMENT and owner is not None:
            by_doc.setdefault(owner, {})[role] = kind
    return by_doc


def _document_change(
    before: dict[str, Any],
    after: dict[str, Any],
    files: dict[str, str],
    parts: set[str],
) -> tuple[str, list[str]]:
    """A changed document's kind and what changed about it."""
    what: list[str] = []
    content = False
    for name, role in _CONTENT_FIELDS.items():
        if before.get(name) != after.get(name) or files.get(role) in ("added", "changed"):
            what.append(f"content ({role})")
            content = True
    if files.get("thumbnail") in ("added", "changed", "removed"):
        what.append("thumbnail")
    names = [n for n in _changed_field_names(before, after) if n not in _CONTENT_FIELDS]
    shown = [n for n in names if n not in _QUIET_FIELDS] or names
    trash = [n for n in shown if n not in ("deleted_at", "restored_at", "transaction_id")]
    if trash:
        what.append(f"metadata ({', '.join(trash)})")
    what.extend(sorted(parts))
    if before.get("deleted_at") is None and after.get("deleted_at") is not None:
        return "trashed", what
    if before.get("deleted_at") is not None and after.get("deleted_at") is None:
        return "restored", what
    return ("content changed" if content else "metadata changed"), what


def record_field_changes(
    changes: Changes, a: int, b: int, before: dict[str, Any], after: dict[str, Any]
) -> list[FieldChange]:
    """One record's fields from snapshot ``a`` to ``b``, named as ``diff --fields`` shows them
    (``history`` uses this for each pair of a document's versions)."""
    texts = _Texts(changes, a, {})
    _want_names(texts, a, b, before, after)
    texts.resolve()
    return _field_changes(texts, a, b, before, after)


def document_change(
    before: dict[str, Any], after: dict[str, Any], files: dict[str, str], parts: set[str]
) -> tuple[str, list[str]]:
    """A changed document's kind ('trashed', 'restored', 'content changed', 'metadata
    changed') and what changed about it, as ``diff`` names them."""
    return _document_change(before, after, files, parts)


def _totals(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))


def render(diff: SnapshotDiff, *, fields: bool = False, stat: bool = False) -> Iterator[str]:
    """The human summary, restic-diff style: ``+``, ``-``, ``M`` lines, then totals."""
    yield f"comparing snapshot {diff.a.short_id} to {diff.b.short_id}"
    if not stat:
        for c in diff.changes:
            extra = f": {', '.join(c.what)}" if c.what else ""
            kind = "" if c.kind in ("added", "removed", "changed") else f" [{c.kind}]"
            yield f"{c.mark}  {c.label}{kind}{extra}"
            if fields:
                for f in c.fields:
                    yield f"      {f.describe()}"
        yield ""
    yield from summary_lines(diff)


def summary_lines(diff: SnapshotDiff) -> Iterable[str]:
    """The totals: documents by kind, then every other model, then files."""
    if diff.documents:
        yield "documents: " + _totals(diff.documents)
    for model, counts in sorted(diff.counts.items()):
        if model != DOCUMENT:
            yield f"{model}: " + _totals(counts)
    if diff.files:
        yield "files: " + _totals(diff.files)
    if diff.is_empty():
        yield "no changes"
