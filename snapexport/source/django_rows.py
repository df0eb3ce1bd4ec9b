"""One section of a Django site: its rows for the fast path and its serialized records.

``rows()`` never runs the serializer: it streams raw column values with
``values_list(...).iterator(chunk_size=...)``, and for each chunk fetches the M2M lists
(one query per relation, in the related model's ordering, through its default manager as
the serializer does), natural keys when asked for, and whatever else a profile declares
the record or its ``extra`` depends on. Memory holds one chunk at a time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.db.models import Model, QuerySet

from snapexport.errors import SourceError
from snapexport.source.base import RowRef, SerializedRecord
from snapexport.source.fingerprint import Fingerprinter
from snapexport.source.ordering import OrderTerm, ordering_terms
from snapexport.source.serialize import serialize_objects
from snapexport.source.sortkey import key_encoder


def pk_text(value: Any) -> str:
    """A primary key as the catalog stores it: its JSON encoding."""
    if type(value) is int:
        return str(value)  # what json.dumps writes for an int, without the encoder set-up
    return json.dumps(value, cls=DjangoJSONEncoder)


def _local_column(meta: Any, path: str) -> str | None:
    """The model's own column an ordering path names, or None for a related value."""
    if path == "pk":
        return str(meta.pk.attname)
    try:
        f = meta.get_field(path)
    except Exception:
        return None
    if getattr(f, "concrete", False) and not f.many_to_many:
        return str(f.attname)
    return None


def _model_query_rows(queryset: QuerySet[Any], chunk_size: int) -> Iterator[tuple[Any, ...]]:
    """The rows of ``queryset``'s own model query (the SQL ``iterator()`` of model
    instances sends, server-side cursor included) as tuples of converted column values,
    without building instances. ``values_list`` would send other SQL (column aliases,
    ``ORDER BY 3``), which a planner may answer with another plan."""
    using = queryset.db
    chunked = not connections[using].settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    compiler = queryset.query.chain().get_compiler(using)
    yield from compiler.results_iter(
        tuple_expected=True, chunked_fetch=chunked, chunk_size=chunk_size
    )


def within(queryset: QuerySet[Any], column: str, keys: set[Any]) -> QuerySet[Any]:
    """``queryset`` narrowed to rows whose ``column`` is in ``keys``, or to the key range
    when the keys are dense integers (the caller then drops the rows outside ``keys``).

    Django prepares every value of an IN list one by one: for a chunk of 500 consecutive
    keys two comparisons cost far less.
    """
    if keys and all(type(k) is int for k in keys):
        low, high = min(keys), max(keys)
        if high - low < 2 * len(keys):
            return queryset.filter(**{f"{column}__gte": low, f"{column}__lte": high})
    return queryset.filter(**{f"{column}__in": keys})


class RowExtras(Protocol):
    """What a profile adds to a section beyond raw values and M2M lists."""

    def salt(self) -> list[Any]:
        """Inputs every row depends on alike (settings, templates)."""
        ...

    def inputs(self, pks: Sequence[Any]) -> Mapping[Any, Any]:
        """Per-row inputs of the record or its extra, for one chunk, in bulk."""
        ...

    def prepare(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Adjust the serialize queryset (select_related for what ``extra`` reads)."""
        ...

    def extra(self, obj: Model) -> dict[str, Any] | None:
        """The record's ``extra`` facts, computed from the model instance."""
        ...


@dataclass(frozen=True, slots=True)
class M2MRelation:
    name: str
    through: type[Model]
    source_attname: str  # through-table column pointing at our rows
    target_name: str  # through-table FK name pointing at the related rows
    target_attname: str
    related: type[Model]


@dataclass
class SectionReader:
    """Rows and records of one model, read through the exporter's queryset."""

    label: str
    queryset: Callable[[], QuerySet[Any]]
    batch_size: int = 500
    natural_foreign: bool = False
    natural_primary: bool = False
    extras: RowExtras | None = None
    _nk_cache: dict[tuple[type[Model], Any], Any] = field(default_factory=dict)

    @property
    def model(self) -> type[Model]:
        return self.queryset().model._meta.concrete_model

    # --- the fast path -----------------------------------------------------------------

    def order_terms(self) -> list[OrderTerm]:
        """The section's order; a model without any gets primary-key order."""
        terms = ordering_terms(self.queryset())
        return terms or [OrderTerm("pk")]

    def m2m_relations(self) -> list[M2MRelation]:
        relations = []
        for f in self.model._meta.local_many_to_many:
            through = f.remote_field.through
            if not f.serialize or not through._meta.auto_created:
                continue  # the serializer leaves custom-through M2M out
            source = through._meta.get_field(f.m2m_field_name())
            target = through._meta.get_field(f.m2m_reverse_field_name())
            relations.append(
                M2MRelation(
                    f.name, through, source.attname, target.name, target.attname, f.related_model
                )
            )
        return relations

    def fingerprinter(self) -> Fingerprinter:
        meta = self.model._meta
        salt: list[Any] = [
            self.label,
            [f.attname for f in meta.local_fields],
            [f.name for f in meta.local_fields if f.serialize],
            [r.name for r in self.m2m_relations()],
            self.natural_foreign,
            self.natural_primary,
            self.natural_primary and hasattr(self.model, "natural_key"),
        ]
        if self.extras is not None:
            salt.append(self.extras.salt())
        return Fingerprinter(salt)

    def rows(self) -> Iterator[RowRef]:
        """Every row, in the order the exporter's own query returns them.

        The query is the section's model query with its own ordering (none added, no
        tie-break, no extra column): the SQL the exporter sends, through the same kind of
        cursor (``iterator()``), in the snapshot's transaction. So the database picks the
        same plan, and ties, rows of unordered sections and collation order arrive as
        they would in the export. The sort key still orders by the terms and the primary
        key; where arrival and key disagree the snapshot keeps the arrival order
        (``snapshot_orders``).
        """
        # Natural keys are cached within one walk only: a later walk sees renames.
        self._nk_cache.clear()
        model = self.model
        meta = model._meta
        queryset = self.queryset()
        using = queryset.db
        nulls_largest = connections[using].vendor in ("postgresql", "oracle")
        columns = [f.attname for f in meta.concrete_fields]
        pk_index = columns.index(meta.pk.attname)
        terms = self.order_terms()
        # Each term's value: a column of the row, or a related value fetched per chunk.
        related: list[str] = []
        term_index = []
        for term in terms:
            column = _local_column(meta, term.path)
            if column is None:
                if term.path not in related:
                    related.append(term.path)
                term_index.append(len(columns) + related.index(term.path))
            else:
                term_index.append(columns.index(column))
        fk_natural = self._natural_fk_fields() if self.natural_foreign else []
        relations = self.m2m_relations()
        fingerprinter = self.fingerprinter()
        key_terms = [
            (i, t.descending, t.nulls_first) for i, t in zip(term_index, terms, strict=True)
        ]
        # Ties last: the primary key (always, so keys stay those of earlier versions), in
        # the direction of the last term, as an index scan serves ties (SQLite and
        # PostgreSQL scan a descending order backwards: equal values come newest first).
        last = terms[-1] if terms else None
        tie_descending = (
            last is not None
            and last.descending
            and _local_column(meta, last.path) != meta.pk.attname
        )
        key_terms.append((pk_index, tie_descending, None))
        sort_key = key_encoder(key_terms, nulls_largest=nulls_largest)
        chunk: list[tuple[Any, ...]] = []
        for row in _model_query_rows(queryset, self.batch_size):
            if len(row) != len(columns):
                raise SourceError(
                    f"{self.label}: the model query selects {len(row)} columns,"
                    f" not the {len(columns)} concrete fields"
                )
            chunk.append(row)
            if len(chunk) >= self.batch_size:
                yield from self._chunk(
                    chunk, pk_index, sort_key, relations, fk_natural, fingerprinter, related,
                )  # fmt: skip
                chunk = []
        if chunk:
            yield from self._chunk(
                chunk, pk_index, sort_key, relations, fk_natural, fingerprinter, related,
            )  # fmt: skip

    def _related_values(self, related: list[str], pks: list[Any]) -> dict[Any, tuple[Any, ...]]:
        """Ordering values that live in related tables, for one chunk, in one query."""
        manager = self.model._base_manager.db_manager(self.queryset().db)
        out: dict[Any, tuple[Any, ...]] = {}
        wanted = set(pks)
        for row in within(manager.all(), "pk", wanted).values_list("pk", *related):
            if row[0] in wanted:
                out[row[0]] = row[1:]
        return out

    def _chunk(
        self,
        chunk: list[tuple[Any, ...]],
        pk_index: int,
        sort_key: Callable[[Sequence[Any]], bytes],
        relations: list[M2MRelation],
        fk_natural: list[tuple[int, type[Model]]],
        fingerprinter: Fingerprinter,
        related: list[str],
    ) -> Iterator[RowRef]:
        pks = [row[pk_index] for row in chunk]
        values = self._related_values(related, pks) if related else None
        missing = (None,) * len(related)
        lists = {r.name: self._m2m_lists(r, pks) for r in relations}
        natural: dict[int, Mapping[Any, Any]] = {}
        for index, target in fk_natural:
            natural[index] = self._natural_keys(target, {row[index] for row in chunk})
        inputs = self.extras.inputs(pks) if self.extras is not None else {}
        for row in chunk:
            pk = row[pk_index]
            raw = list(row)
            for index, _target in fk_natural:
                raw.append(natural[index].get(row[index]))
            fingerprint = fingerprinter.row(
                raw,
                [lists[r.name].get(pk, []) for r in relations],
                inputs.get(pk),
            )
            key_row = row if values is None else row + values.get(pk, missing)
            yield RowRef(pk_text(pk), fingerprint, sort_key(key_row))

    def _m2m_lists(self, relation: M2MRelation, pks: list[Any]) -> dict[Any, list[Any]]:
        """Each row's related keys in the order the serializer lists them."""
        related_qs = relation.related._default_manager.all()
        wanted = set(pks)
        through_qs = within(
            relation.through._default_manager.using(related_qs.db).all(),
            relation.source_attname,
            wanted,
        )
        if related_qs.query.where:
            # A filtering default manager (e.g. soft delete) hides rows from the list.
            through_qs = through_qs.filter(
                **{f"{relation.target_attname}__in": related_qs.values("pk")}
            )
        prefix = relation.target_name + "__"
        order = [t.expression(prefix) for t in ordering_terms(related_qs)]
        order.append(OrderTerm(relation.target_attname).expression())
        result: dict[Any, list[Any]] = defaultdict(list)
        pairs = through_qs.order_by(*order).values_list(
            relation.source_attname, relation.target_attname
        )
        if self.natural_foreign and hasattr(relation.related, "natural_key"):
            pairs_list = [(s, t) for s, t in pairs if s in wanted]
            keys = self._natural_keys(relation.related, {t for _s, t in pairs_list})
            for source, target in pairs_list:
                result[source].append(keys.get(target))
        else:
            for source, target in pairs:
                if source in wanted:
                    result[source].append(target)
        return result

    def _natural_fk_fields(self) -> list[tuple[int, type[Model]]]:
        """(column index, target model) of FKs the serializer writes as natural keys."""
        meta = self.model._meta
        out = []
        for index, f in enumerate(meta.concrete_fields):
            if f.remote_field is not None and f.serialize:
                target = f.remote_field.model
                if hasattr(target, "natural_key"):
                    out.append((index, target))
        return out

    def _natural_keys(self, model: type[Model], ids: set[Any]) -> Mapping[Any, Any]:
        ids.discard(None)
        missing = [i for i in ids if (model, i) not in self._nk_cache]
        if missing:
            if len(self._nk_cache) > 50_000:
                self._nk_cache.clear()  # bounded memory beats a perfect cache
            for obj in model._base_manager.filter(pk__in=missing):
                self._nk_cache[(model, obj.pk)] = obj.natural_key()
        return {i: self._nk_cache.get((model, i)) for i in ids}

    # --- records -----------------------------------------------------------------------

    def serialize(self, pks: Sequence[str]) -> Iterator[SerializedRecord]:
        relations = [r.name for r in self.m2m_relations()]
        fk_names = [f.name for f in self.model._meta.local_fields if f.remote_field is not None]
        for start in range(0, len(pks), self.batch_size):
            batch = [json.loads(pk) for pk in pks[start : start + self.batch_size]]
            queryset = self.queryset().filter(pk__in=batch).order_by()
            if relations:
                queryset = queryset.prefetch_related(*relations)
            if self.natural_foreign and fk_names:
                queryset = queryset.select_related(*fk_names)
            if self.extras is not None:
                queryset = self.extras.prepare(queryset)
            objects = list(queryset)
            texts = serialize_objects(
                objects,
                natural_foreign=self.natural_foreign,
                natural_primary=self.natural_primary,
            )
            for obj, text in zip(objects, texts, strict=True):
                extra = self.extras.extra(obj) if self.extras is not None else None
                yield SerializedRecord(pk_text(obj.pk), text, extra)
            for obj in objects:
                # A prefetched M2M list is a queryset that points back at its object (its
                # known related objects): drop it, so that the batch is freed by reference
                # count now rather than by the cyclic collector some batches later.
                obj.__dict__.pop("_prefetched_objects_cache", None)
