"""The exporter's file names of a snapshot's documents, without naming every document.

``document_exporter`` (and materialize's ``Namer``) names documents one after another: a
document's name gets a counter (``_01``) only when an earlier document took its name. Running
the Namer over 100,000 documents takes tens of seconds, too slow for ``ls``. So the index
keeps, per document version, the names the Namer gives it *alone* (a fresh ``Namer``), and
a snapshot's names are these except for the few documents that can interact:

- versions whose names (any role) another version of the snapshot was also given;
- versions whose names could be another document's counter-advanced or shortened name
  (a stem ending in ``_NN``, a departure, a name over 200 bytes: ``name_unsure``);
- versions whose names were made with another name of their correspondent than the
  snapshot gives it (renamed since), and those given their new names.

A version whose ``created`` is a date-time (paperless before 3.0) is named in the snapshot's
time zone, so it is always unsure.

Only these run through a real ``Namer``, in export order. Every other document's names are
unique in the snapshot and cannot be a counter or shortened name, so the Namer would give it
exactly its names alone. No naming rule is written here: every name comes from the Namer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from snapexport.catalog import documents as cat
from snapexport.catalog.documents import Documents
from snapexport.documents.profile import DocumentProfile
from snapexport.exportformat.naming import DocumentFacts, DocumentNames, Namer, snapshot_time_zone
from snapexport.exportformat.naming import created_date as created_text
from snapexport.values import SnapshotMeta

_COUNTER_LIKE = re.compile(r"_\d{2,}$")
_LONG = 200  # bytes: names this long may meet another document's shortened name


def new_namer(*, in_memory: bool = False) -> Namer:
    """A Namer with ``document_exporter``'s default flags."""
    return Namer(use_filename_format=False, use_folder_prefix=False, no_thumbnail=False,
                 no_archive=False, split_manifest=False, in_memory=in_memory)  # fmt: skip


def facts(
    pk: Any, created: Any, correspondent: str | None, title: str | None, mime_type: str | None,
    has_archive: bool, file_type: str | None, tz: Any,
) -> DocumentFacts:  # fmt: skip
    return DocumentFacts(
        pk=pk, created=created_text(created, tz), correspondent=correspondent, title=title,
        mime_type=mime_type, has_archive=has_archive, format_name=None,
        file_type=file_type or "",
    )  # fmt: skip


def alone(doc: DocumentFacts) -> tuple[DocumentNames, bool]:
    """The names a fresh Namer gives ``doc``, and whether they are unsure (see above)."""
    names = new_namer(in_memory=True).assign(doc)
    stem = names.original
    if doc.file_type and stem.endswith(doc.file_type):
        stem = stem[: -len(doc.file_type)]
    every = [n for n in (names.original, names.thumbnail, names.archive) if n]
    unsure = (
        names.departure is not None
        or bool(_COUNTER_LIKE.search(stem))
        or any(len(n.encode("utf-8")) > _LONG for n in every)
    )
    return names, unsure


class SnapshotNames:
    """Every document's export names in one snapshot (see the module docstring)."""

    def __init__(self, docs: Documents, meta: SnapshotMeta, profile: DocumentProfile) -> None:
        self.docs = docs
        self.meta = meta
        self.profile = profile
        self.tz = snapshot_time_zone(meta)
        self.exact: dict[str, DocumentNames] = {}
        self._name_interacting()

    def _facts(self, v: cat.VersionRow, corr: str | None) -> DocumentFacts:
        return facts(json.loads(v.pk), v.created, corr, v.title, v.mime_type, v.has_archive,
                     v.file_type, self.tz)  # fmt: skip

    def _name_interacting(self) -> None:
        docs, seq, doc_model = self.docs, self.meta.seq, self.profile.document
        corr_model = self.profile.correspondent.model
        stale = list(docs.stale_name_versions(seq, doc_model, corr_model))
        fresh: list[str] = []
        corr = docs.names_at(corr_model, (v.correspondent for v in stale
                                                if v.correspondent), seq)  # fmt: skip
        for v in stale:
            names, _ = alone(self._facts(v, corr.get(v.correspondent or "")))
            fresh += [n for n in (names.original, names.thumbnail, names.archive) if n]
        # Names shared in this snapshot: among the few ever given to two documents.
        candidates = list(self.docs.versions_named(seq, doc_model, self.docs.shared_names()))
        counts: dict[str, int] = {}
        for v in candidates:
            for name in {v.name_original, v.name_thumbnail, v.name_archive} - {None}:
                counts[str(name)] = counts.get(str(name), 0) + 1
        interacting = {
            v.pk: v
            for v in candidates
            if any(counts.get(str(n), 0) > 1 for n in (v.name_original, v.name_thumbnail,
                                                        v.name_archive) if n)
        }  # fmt: skip
        interacting.update((v.pk, v) for v in self.docs.versions_named(seq, doc_model, fresh))
        interacting.update((v.pk, v) for v in docs.unsure_versions(seq, doc_model))
        interacting.update((v.pk, v) for v in stale)
        if not interacting:
            return
        ordered = sorted(interacting.values(), key=lambda v: v.sort_key)
        corr = docs.names_at(corr_model, (v.correspondent for v in ordered
                                                if v.correspondent), seq)  # fmt: skip
        namer = new_namer()
        for v in ordered:
            self.exact[v.pk] = namer.assign(self._facts(v, corr.get(v.correspondent or "")))

    def names(self, v: cat.VersionRow) -> DocumentNames:
        exact = self.exact.get(v.pk)
        return exact if exact is not None else DocumentNames(*self.files(v), None)

    def files(self, v: cat.VersionRow | cat.AliveRow) -> tuple[str, str | None, str | None]:
        """The export names of ``v``'s original, thumbnail and archive in this snapshot."""
        exact = self.exact.get(v.pk)
        if exact is not None:
            return exact.original, exact.thumbnail, exact.archive
        assert v.name_original is not None, f"document {v.pk} has no names in the index"
        return v.name_original, v.name_thumbnail, v.name_archive
