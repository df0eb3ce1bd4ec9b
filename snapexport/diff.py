"""What changed between two snapshots, computed from the catalog's spans alone.

For snapshots A (older) and B, the spans alive in A but not in B all died in ``(A, B]``
and the spans alive in B but not in A were all born in ``(A, B]``: two indexed range
queries whose size is the number of changes, not the size of the site. Unchanged records
are never read, so memory does not grow with them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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
    "field": ("documents.customfield", "name"),
}


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

    kind: str  # 'added' | 'removed' | 'changed' | 'trashed' | 'restored'
    model: str
    pk: str
    label: str
    what: tuple[str, ...] = ()  # for documents: 'content (original)', 'metadata', 'notes', ...
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


def _alive_only_in(table: str, key: str, a: int, b: int) -> str:
    """SQL for the spans alive in snapshot ``a`` but not in ``b`` (both ints, no user input)."""
    if a < b:
        return f"SELECT {key} FROM {table} WHERE born <= {a} AND died > {a} AND died <= {b}"
    alive_at_a = f"(died IS NULL OR died > {a})"
    return f"SELECT {key} FROM {table} WHERE born > {b} AND born <= {a} AND {alive_at_a}"


def _changed_spans(conn: sqlite3.Connection, a: int, b: int) -> dict[tuple[str, str], list[Any]]:
    """(model, pk) -> [hash in A or None, hash in B or None] for every differing record."""
    out: dict[tuple[str, str], list[Any]] = {}
    cols = "model, pk, hash"
    for model, pk, h in conn.execute(_alive_only_in("record_spans", cols, a, b)):
        out.setdefault((model, pk), [None, None])[0] = h
    for model, pk, h in conn.execute(_alive_only_in("record_spans", cols, b, a)):
        out.setdefault((model, pk), [None, None])[1] = h
    return {k: v for k, v in out.items() if v[0] != v[1]}


def _changed_files(conn: sqlite3.Connection, a: int, b: int) -> dict[str, list[Any]]:
    """path -> [(blob, role, owner) in A or None, same in B or None]."""
    out: dict[str, list[Any]] = {}
    cols = "path, blob, role, owner_model, owner_pk"
    for path, *rest in conn.execute(_alive_only_in("file_spans", cols, a, b)):
        out.setdefault(path, [None, None])[0] = tuple(rest)
    for path, *rest in conn.execute(_alive_only_in("file_spans", cols, b, a)):
        out.setdefault(path, [None, None])[1] = tuple(rest)
    return out


class _Texts:
    """Record texts by hash, and names of records alive in a snapshot (for --fields)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._names: dict[tuple[int, str, str], str] = {}

    def fields(self, h: bytes | None) -> dict[str, Any]:
        if h is None:
            return {}
        row = self.conn.execute("SELECT data FROM record_data WHERE hash = ?", (h,)).fetchone()
        return json.loads(decode_text(row[0])).get("fields", {}) if row else {}

    def name(self, seq: int, model: str, pk: Any, attr: str) -> str:
        key = (seq, model, json.dumps(pk))
        if key not in self._names:
            row = self.conn.execute(
                "SELECT d.data FROM record_spans s JOIN record_data d ON d.hash = s.hash"
                " WHERE s.model = ? AND s.pk = ? AND s.born <= ?"
                " AND (s.died IS NULL OR s.died > ?)",
                (model, key[2], seq, seq),
            ).fetchone()
            value = json.loads(decode_text(row[0]))["fields"].get(attr) if row else None
            self._names[key] = str(value) if value is not None else f"#{pk}"
        return self._names[key]


def _label(model: str, pk: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    f = after or before
    for attr in ("title", "name", "username", "slug", "codename"):
        if f.get(attr):
            name = json.dumps(f[attr], ensure_ascii=False)
            return f"{model.split('.')[-1]} {json.loads(pk)} {name}"
    return f"{model.split('.')[-1]} {json.loads(pk)}"


def _field_changes(
    texts: _Texts, a: int, b: int, before: dict[str, Any], after: dict[str, Any]
) -> list[FieldChange]:
    out = []
    for name in list(dict.fromkeys([*before, *after])):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
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


def diff_snapshots(conn: sqlite3.Connection, a: SnapshotMeta, b: SnapshotMeta) -> SnapshotDiff:
    """Compare snapshot ``a`` with snapshot ``b`` (either may be the older one)."""
    result = SnapshotDiff(a, b)
    texts = _Texts(conn)
    records = _changed_spans(conn, a.seq, b.seq)
    files = _changed_files(conn, a.seq, b.seq)
    doc_notes: dict[str, set[str]] = {}
    doc_files: dict[str, set[str]] = {}
    for old, new in files.values():
        kind = "added" if old is None else "removed" if new is None else "changed"
        result.files[kind] = result.files.get(kind, 0) + 1
        owner = (new or old)[2:]
        if owner[0] == DOCUMENT:
            doc_files.setdefault(owner[1], set()).add((new or old)[1])
    for (model, pk), (h_a, h_b) in sorted(records.items()):
        before, after = texts.fields(h_a), texts.fields(h_b)
        if model in _DOCUMENT_PARTS:
            doc = (after or before).get("document")
            if doc is not None:
                doc_notes.setdefault(json.dumps(doc), set()).add(_DOCUMENT_PARTS[model])
        kind = "added" if h_a is None else "removed" if h_b is None else "changed"
        what: list[str] = []
        if model == DOCUMENT and kind == "changed":
            kind, what = _document_change(before, after, doc_files.pop(pk, set()))
        counts = result.counts.setdefault(model, {})
        counts[kind] = counts.get(kind, 0) + 1
        result.changes.append(
            Change(
                kind,
                model,
                pk,
                _label(model, pk, before, after),
                tuple(what),
                ()
                if kind in ("added", "removed")
                else tuple(_field_changes(texts, a.seq, b.seq, before, after)),
            )
        )
    _attach_parts(texts, result, doc_notes, doc_files, b.seq)
    return result


def _document_change(
    before: dict[str, Any], after: dict[str, Any], file_roles: set[str]
) -> tuple[str, list[str]]:
    if before.get("deleted_at") is None and after.get("deleted_at") is not None:
        return "trashed", []
    if before.get("deleted_at") is not None and after.get("deleted_at") is None:
        return "restored", []
    what = []
    if before.get("checksum") != after.get("checksum") or "original" in file_roles:
        what.append("content (original)")
    if before.get("archive_checksum") != after.get("archive_checksum") or "archive" in file_roles:
        what.append("content (archive)")
    ignore = {"checksum", "archive_checksum", "modified", "archive_filename", "filename"}
    if any(before.get(k) != after.get(k) for k in set(before) | set(after) if k not in ignore):
        what.append("metadata")
    content = bool(what) and what[0].startswith("content")
    return ("content changed" if content else "metadata changed"), what


def _attach_parts(
    texts: _Texts,
    result: SnapshotDiff,
    doc_notes: dict[str, set[str]],
    doc_files: dict[str, set[str]],
    seq: int,
) -> None:
    """Documents whose own record is unchanged but whose notes, fields or files changed."""
    changed_docs = {c.pk for c in result.changes if c.model == DOCUMENT}
    for pk in sorted(set(doc_notes) | set(doc_files)):
        if pk in changed_docs:
            continue
        what = sorted(doc_notes.get(pk, set()))
        roles = doc_files.get(pk, set())
        what = [f"content ({r})" for r in sorted(roles)] + what
        kind = "content changed" if roles else "metadata changed"
        counts = result.counts.setdefault(DOCUMENT, {})
        counts[kind] = counts.get(kind, 0) + 1
        title = texts.name(seq, DOCUMENT, json.loads(pk), "title")
        result.changes.append(
            Change(kind, DOCUMENT, pk, _label(DOCUMENT, pk, {}, {"title": title}), tuple(what))
        )


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
    docs = diff.documents
    if docs:
        yield "documents: " + ", ".join(f"{n} {k}" for k, n in sorted(docs.items()))
    for model, counts in sorted(diff.counts.items()):
        if model == DOCUMENT:
            continue
        yield f"{model}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    if diff.files:
        yield "files: " + ", ".join(f"{n} {k}" for k, n in sorted(diff.files.items()))
    if diff.is_empty():
        yield "no changes"
