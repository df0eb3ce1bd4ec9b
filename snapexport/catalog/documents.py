"""The document index: a derived, rebuildable SQLite file that makes ls, find and history fast.

Record texts are zstd-compressed JSON in ``record_data``; answering "which documents are titled
like X" from them would decode every document version. The index holds, per record span of
the models a profile names, the few fields those questions ask about (flat columns, one
row per span), tag links, related names, part-to-document links and a contentless FTS5 index
of the content. It lives outside the catalog (the user's cache folder, see
``documents/index.py``), is never published with the catalog, and is keyed by span id *and*
record hash: a row whose span is gone or was renumbered never joins. ``refresh`` adds spans
newer than its watermark, so after a night it reads only that night's records.

Nothing here knows which models are documents: callers pass model labels from the profile.
The index is written through its own connection (never a write transaction on the catalog)
and read attached to the catalog connection as ``docidx``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from snapexport.catalog.checksums import as_text
from snapexport.catalog.modelids import model_id

_ALIVE_S = "s.born <= :seq AND (s.died IS NULL OR s.died > :seq)"
_JOIN_V = "JOIN record_spans s ON s.id = v.span AND s.hash = v.hash"


class VersionRow(NamedTuple):
    """One document version (index row joined with its span). A named tuple: ``ls`` makes
    100,000 of them, and a frozen dataclass's __init__ cost 7 us each against 1 us."""

    span: int
    pk: str
    born: int
    died: int | None
    title: str | None
    correspondent: str | None
    document_type: str | None
    asn: str | None
    original_filename: str | None
    checksum: str | None
    archive_checksum: str | None
    created: str | None
    deleted_at: str | None
    mime_type: str | None
    file_type: str | None
    has_archive: bool
    sort_key: bytes = b""
    name_original: str | None = None
    name_thumbnail: str | None = None
    name_archive: str | None = None
    name_corr: str | None = None
    name_unsure: bool = False


_VCOLS = (
    "v.span, v.pk, s.born, s.died, v.title, v.correspondent, v.document_type, v.asn,"
    " v.original_filename, v.checksum, v.archive_checksum, v.created, v.deleted_at,"
    " v.mime_type, v.file_type, v.has_archive, s.sort_key, v.name_original,"
    " v.name_thumbnail, v.name_archive, v.name_corr, v.name_unsure"
)


class AliveRow(NamedTuple):
    """One document version as ``ls`` lists it (``versions_alive``): the columns it shows."""

    span: int
    pk: str
    created: str | None
    title: str | None
    correspondent: str | None
    document_type: str | None
    asn: str | None
    checksum: str | None
    deleted_at: str | None
    tags: str  # JSON pks of its tags, each followed by docindex.TAG_END
    name_original: str | None
    name_thumbnail: str | None
    name_archive: str | None


_ACOLS = (
    "v.span, v.pk, v.created, v.title, v.correspondent, v.document_type, v.asn, v.checksum,"
    " v.deleted_at, v.tags, v.name_original, v.name_thumbnail, v.name_archive"
)
_new_alive = AliveRow._make


def _version(row: Sequence[Any]) -> VersionRow:
    return _new_version((*row[:15], bool(row[15]), *row[16:21], bool(row[21])))


_new_version = VersionRow._make


def _marks(prefix: str, values: Sequence[str], params: dict[str, Any]) -> str:
    """Named parameters for an IN list (a handful of pks that carry one name)."""
    names = []
    for i, value in enumerate(values):
        params[f"{prefix}{i}"] = value
        names.append(f":{prefix}{i}")
    return ", ".join(names) or "NULL"


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _matches(pattern: str, text: str | None) -> bool:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        compiled = _PATTERNS[pattern] = re.compile(pattern, re.IGNORECASE)
    return bool(compiled.fullmatch(text or ""))


class Documents:
    """Document questions on one open catalog, answered through the document index
    (``attach`` it first, see ``catalog/docindex.py``)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def span_hash(self, span: int) -> str:
        """The record hash (hex) of span ``span``, or "" when there is no such span."""
        row = self._conn.execute("SELECT hash FROM record_spans WHERE id = ?", (span,)).fetchone()
        return bytes(row[0]).hex() if row else ""

    def highest_span(self) -> int:
        return int(
            self._conn.execute("SELECT coalesce(max(id), 0) FROM record_spans").fetchone()[0]
        )

    def spans_after(
        self, after: int, upto: int, models: Sequence[str]
    ) -> Iterator[tuple[int, str, str, bytes, bytes, str | None, int]]:
        """(span id, model, pk, hash, compressed text, extra, born) of the spans in
        ``(after, upto]``."""
        marks = ",".join("?" * len(models))
        yield from self._conn.execute(
            "SELECT s.id, m.name, s.pk, s.hash, d.data, s.extra, s.born FROM record_spans s"
            " JOIN models m ON m.id = s.model JOIN record_data d ON d.hash = s.hash"
            f" WHERE s.id > ? AND s.id <= ? AND m.name IN ({marks}) ORDER BY s.id",
            (after, upto, *models),
        )

    def attach(self, path: Path) -> None:
        """Attach the index file to the catalog connection as ``docidx`` (reads only)."""
        attached = {row[1] for row in self._conn.execute("PRAGMA database_list")}
        if "docidx" not in attached:
            self._conn.execute("ATTACH DATABASE ? AS docidx", (str(path),))

    def versions_alive(
        self,
        seq: int,
        model: str,
        *,
        tag: Sequence[str] | None = None,
        correspondent: Sequence[str] | None = None,
        document_type: Sequence[str] | None = None,
        title: re.Pattern[str] | None = None,
    ) -> Iterator[AliveRow]:
        """The document versions snapshot ``seq`` holds, in the exporter's order (sort key),
        with the columns ``ls`` shows (a listing fetches 100,000 of them: every column more
        costs it about 15 ms).

        ``tag``, ``correspondent`` and ``document_type`` take JSON pks (the caller resolves
        names), ``title`` a compiled pattern matched against the whole title; None means any.
        """
        where = [f"s.model = {model_id(':model')} AND {_ALIVE_S}"]
        params: dict[str, Any] = {"model": model, "seq": seq}
        # The most selective filter drives the join (CROSS JOIN keeps SQLite's order: the
        # attached index has no statistics); the rest are conditions.
        source = "record_spans s JOIN docidx.versions v ON v.span = s.id AND v.hash = s.hash"
        select = "SELECT"
        drive = " CROSS JOIN record_spans s ON s.id = v.span AND s.hash = v.hash"
        if tag is not None:
            source = "docidx.version_tags t CROSS JOIN docidx.versions v ON v.span = t.span" + drive
            select = "SELECT DISTINCT"
            where.append(f"t.tag IN ({_marks('tag', tag, params)})")
        elif correspondent is not None or document_type is not None:
            source = "docidx.versions v" + drive
        if correspondent is not None:
            where.append(f"v.correspondent IN ({_marks('corr', correspondent, params)})")
        if document_type is not None:
            where.append(f"v.document_type IN ({_marks('dtype', document_type, params)})")
        if title is not None:
            self._conn.create_function("snapexport_match", 2, _matches, deterministic=True)
            where.append("snapexport_match(:title, v.title)")
            params["title"] = title.pattern
        sql = f"{select} {_ACOLS} FROM {source} WHERE {' AND '.join(where)} ORDER BY s.sort_key"
        yield from map(_new_alive, self._conn.execute(sql, params))

    def has_explicit_order(self, seq: int, model: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM snapshot_orders WHERE seq = ? AND model = ?", (seq, model)
        ).fetchone()
        return row is not None

    def names_at(self, model: str, pks: Iterable[str], seq: int) -> dict[str, str]:
        """Names of related records as snapshot ``seq`` held them (else their newest name)."""
        out: dict[str, str] = {}
        alive: set[str] = set()
        wanted = sorted(set(pks))
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            marks = ",".join("?" * len(part))
            for pk, name, born, died in self._conn.execute(
                "SELECT n.pk, n.name, s.born, s.died FROM docidx.names n"
                " JOIN record_spans s ON s.id = n.span AND s.hash = n.hash"
                f" WHERE n.model = ? AND n.pk IN ({marks}) ORDER BY s.born",
                (model, *part),
            ):
                if born <= seq and (died is None or died > seq):
                    out[pk] = name
                    alive.add(pk)
                elif pk not in alive:
                    out[pk] = name
        return out

    def name_pks(self, model: str, name: str) -> list[str]:
        """JSON pks of records of ``model`` that were ever called ``name`` (case-insensitive)."""
        return [
            pk
            for (pk,) in self._conn.execute(
                "SELECT DISTINCT n.pk FROM docidx.names n"
                " JOIN record_spans s ON s.id = n.span AND s.hash = n.hash"
                " WHERE n.model = ? AND n.folded = ?",
                (model, name.casefold()),
            )
        ]

    def find_versions(
        self,
        model: str,
        query: str,
        *,
        name_models: Sequence[str],
        fts_query: str | None,
        checksum_prefix: str | None,
    ) -> Iterator[VersionRow]:
        """Every version of every document one of whose versions matches ``query``.

        Matches: casefolded substring of title, original file name or ASN; a related record
        (correspondent, tag: ``name_models``) whose name contains it; a checksum prefix; the
        content's words (FTS5). Ordered by document pk (numeric first), then by birth.
        """
        like = "%" + query.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like += "%"
        marks = ",".join("?" * len(name_models))
        named = (
            f"SELECT n.pk FROM docidx.names n WHERE n.model IN ({marks})"
            " AND n.folded LIKE ? ESCAPE '\\'"
        )
        matched = [
            "SELECT span FROM docidx.versions WHERE folded LIKE ? ESCAPE '\\'",
            f"SELECT span FROM docidx.versions WHERE correspondent IN ({named})",
            f"SELECT span FROM docidx.version_tags WHERE tag IN ({named})",
        ]
        params: list[Any] = [like, *name_models, like, *name_models, like]
        if checksum_prefix:
            matched.append(
                "SELECT span FROM docidx.versions WHERE checksum >= ? AND checksum < ?"
                " UNION ALL SELECT span FROM docidx.versions"
                " WHERE archive_checksum >= ? AND archive_checksum < ?"
            )
            params += [checksum_prefix, checksum_prefix + "g"] * 2
        if fts_query:
            matched.append("SELECT rowid FROM docidx.content WHERE content MATCH ?")
            params.append(fts_query)
        sql = (
            f"WITH hit(span) AS ({' UNION '.join(matched)}),"
            " docs(pk) AS (SELECT DISTINCT v.pk FROM hit"
            " JOIN docidx.versions v ON v.span = hit.span"
            " JOIN record_spans s ON s.id = v.span AND s.hash = v.hash"
            f" WHERE s.model = {model_id()})"
            f" SELECT {_VCOLS} FROM docs JOIN docidx.versions v ON v.pk = docs.pk {_JOIN_V}"
            " ORDER BY typeof(json(v.pk)) <> 'integer', CAST(v.pk AS INTEGER), v.pk, s.born"
        )
        for row in self._conn.execute(sql, (*params, model)):
            yield _version(row)

    def versions_of(self, model: str, pk: str) -> list[VersionRow]:
        """Every stored version of one document, oldest first (a handful of rows)."""
        return [
            _version(row)
            for row in self._conn.execute(
                f"SELECT {_VCOLS} FROM docidx.versions v {_JOIN_V}"
                f" WHERE v.pk = ? AND s.model = {model_id()} ORDER BY s.born",
                (pk, model),
            )
        ]

    def record_at(self, model: str, pk: str, seq: int) -> tuple[bytes, str | None] | None:
        """(compressed text, extra) of one record as snapshot ``seq`` holds it, or None.

        For the small models a document refers to (tags, users, ...); documents themselves are
        found through the index (``versions_of``).
        """
        row = self._conn.execute(
            "SELECT d.data, s.extra FROM record_spans s JOIN record_data d ON d.hash = s.hash"
            f" WHERE s.model = {model_id(':model')} AND s.pk = :pk AND {_ALIVE_S}",
            {"model": model, "pk": pk, "seq": seq},
        ).fetchone()
        return None if row is None else (bytes(row[0]), row[1])

    def span_record(self, span: int) -> tuple[bytes, str | None] | None:
        """(compressed text, extra) of one span."""
        row = self._conn.execute(
            "SELECT d.data, s.extra FROM record_spans s JOIN record_data d ON d.hash = s.hash"
            " WHERE s.id = ?",
            (span,),
        ).fetchone()
        return None if row is None else (bytes(row[0]), row[1])

    def parts_at(self, document: str, seq: int) -> Iterator[tuple[str, str, bytes]]:
        """(model, pk, compressed text) of the records belonging to a document in ``seq``."""
        yield from (
            (model, pk, bytes(data))
            for model, pk, data in self._conn.execute(
                "SELECT m.name, s.pk, d.data FROM docidx.parts p"
                " JOIN record_spans s ON s.id = p.span AND s.hash = p.hash"
                " JOIN models m ON m.id = s.model JOIN record_data d ON d.hash = s.hash"
                f" WHERE p.document = :doc AND {_ALIVE_S}"
                " ORDER BY m.name, CAST(s.pk AS INTEGER), s.pk",
                {"doc": document, "seq": seq},
            )
        )

    def file_versions(
        self, owner_model: str, owner_pk: str
    ) -> list[tuple[str, str, bytes, int, str | None, int, int | None]]:
        """(role, path, blob, size, checksum, born, died) of every stored file of one record."""
        return [
            (role, path, bytes(blob), size, checksum, born, died)
            for role, path, blob, size, checksum, born, died in self._conn.execute(
                f"SELECT role, path, blob, size, {as_text('checksum')}, born, died FROM file_spans"
                f" WHERE owner_model = {model_id()} AND owner_pk = ? ORDER BY born, role",
                (owner_model, owner_pk),
            )
        ]

    def part_spans(self, document: str) -> list[tuple[str, str, int, int | None]]:
        """(model, pk, born, died) of every stored version of a document's part records."""
        return [
            (model, pk, born, died)
            for model, pk, born, died in self._conn.execute(
                "SELECT m.name, s.pk, s.born, s.died FROM docidx.parts p"
                " JOIN record_spans s ON s.id = p.span AND s.hash = p.hash"
                " JOIN models m ON m.id = s.model"
                " WHERE p.document = ? ORDER BY s.born, m.name, s.pk",
                (document,),
            )
        ]

    def shared_names(self) -> list[str]:
        """Names the index gave (alone) to more than one document, ever: the only names two
        documents of one snapshot can share. Kept small by the index (``shared``)."""
        return [name for (name,) in self._conn.execute("SELECT name FROM docidx.shared")]

    def versions_named(self, seq: int, model: str, names: Sequence[str]) -> Iterator[VersionRow]:
        """Versions snapshot ``seq`` holds that were given one of ``names`` alone."""
        for start in range(0, len(names), 500):
            part = list(names[start : start + 500])
            marks = ",".join("?" * len(part))
            for row in self._conn.execute(
                f"SELECT DISTINCT {_VCOLS} FROM docidx.version_names vn"
                f" JOIN docidx.versions v ON v.span = vn.span {_JOIN_V}"
                f" WHERE vn.name IN ({marks}) AND s.model = {model_id()}"
                " AND s.born <= ? AND (s.died IS NULL OR s.died > ?)",
                (*part, model, seq, seq),
            ):
                yield _version(row)

    def unsure_versions(self, seq: int, model: str) -> Iterator[VersionRow]:
        """Versions snapshot ``seq`` holds whose names could meet a counter or shortened name."""
        for row in self._conn.execute(
            f"SELECT {_VCOLS} FROM docidx.versions v INDEXED BY versions_unsure"
            " CROSS JOIN record_spans s ON s.id = v.span AND s.hash = v.hash"
            f" WHERE v.name_unsure = 1 AND s.model = {model_id(':model')} AND {_ALIVE_S}",
            {"seq": seq, "model": model},
        ):
            yield _version(row)

    def stale_name_versions(
        self, seq: int, model: str, correspondent_model: str
    ) -> Iterator[VersionRow]:
        """Versions snapshot ``seq`` holds whose names were made with another name of their
        correspondent than ``seq`` gives it (renamed since): one indexed range per name."""
        for part in ("v.name_corr < cn.name", "v.name_corr > cn.name", "v.name_corr IS NULL"):
            for row in self._conn.execute(
                "WITH cn(pk, name) AS MATERIALIZED (SELECT n.pk, n.name FROM docidx.names n"
                " JOIN record_spans ns ON ns.id = n.span AND ns.hash = n.hash"
                " WHERE n.model = :corr AND ns.born <= :seq"
                " AND (ns.died IS NULL OR ns.died > :seq))"
                f" SELECT {_VCOLS} FROM cn JOIN docidx.versions v ON v.correspondent = cn.pk"
                f" AND {part} {_JOIN_V} WHERE s.model = {model_id(':model')} AND {_ALIVE_S}",
                {"seq": seq, "model": model, "corr": correspondent_model},
            ):
                yield _version(row)

    def time_zone_from(self, seq: int) -> str | None:
        """The time zone recorded by the first snapshot at or after ``seq`` (else the newest)."""
        row = (
            self._conn.execute(
                "SELECT json_extract(info, '$.time_zone') FROM snapshots WHERE seq >= ?"
                " ORDER BY seq LIMIT 1",
                (seq,),
            ).fetchone()
            or self._conn.execute(
                "SELECT json_extract(info, '$.time_zone') FROM snapshots ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        )
        return None if row is None or row[0] is None else str(row[0])
