"""A queryset's ordering as plain terms: lookup paths with direction and NULL placement.

Expands names the way Django's SQL compiler does: ``-`` flips the direction, a relation
named by its field name (not its ``attname``) expands into the related model's
``Meta.ordering`` (or its primary key when it has none), and that expansion inherits the
outer direction. The terms are then used twice, for the same order: as the ``ORDER BY``
of the rows query (with the primary key appended as tie-break) and as the values that
make up each row's sort key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import F, Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import OrderBy

from snapexport.errors import SourceError


@dataclass(frozen=True, slots=True)
class OrderTerm:
    path: str  # lookup path from the section's model, e.g. 'content_type__app_label'
    descending: bool = False
    nulls_first: bool | None = None  # None: the database's default placement

    def expression(self, prefix: str = "") -> OrderBy:
        field = F(prefix + self.path)
        nulls: dict[str, bool] = {}
        if self.nulls_first is True:
            nulls["nulls_first"] = True
        elif self.nulls_first is False:
            nulls["nulls_last"] = True
        return field.desc(**nulls) if self.descending else field.asc(**nulls)


def declared_ordering(queryset: QuerySet[Any]) -> list[Any]:
    """The ordering the queryset asks for: explicit ``order_by``, else ``Meta.ordering``."""
    query = queryset.query
    if query.order_by:
        return list(query.order_by)
    if query.default_ordering:
        return list(queryset.model._meta.ordering)
    return []


def ordering_terms(queryset: QuerySet[Any]) -> list[OrderTerm]:
    """The queryset's order as terms (empty: no order asked for)."""
    return expand(queryset.model, declared_ordering(queryset))


def expand(
    model: type[Model], names: list[Any], prefix: str = "", flip: bool = False
) -> list[OrderTerm]:
    terms: list[OrderTerm] = []
    for item in names:
        name, descending, nulls_first = _parse(item)
        descending ^= flip
        terms.extend(_expand_one(model, name, descending, nulls_first, prefix, set()))
    return terms


def _parse(item: Any) -> tuple[str, bool, bool | None]:
    if isinstance(item, str):
        if item == "?":
            raise SourceError("random ordering ('?') cannot be reproduced")
        if item.startswith("-"):
            return item[1:], True, None
        return item.lstrip("+"), False, None
    if isinstance(item, OrderBy) and isinstance(item.expression, F):
        nulls = True if item.nulls_first else (False if item.nulls_last else None)
        return item.expression.name, item.descending, nulls
    if isinstance(item, F):
        return item.name, False, None
    raise SourceError(f"ordering by {item!r} is not supported")


def _expand_one(
    model: type[Model],
    name: str,
    descending: bool,
    nulls_first: bool | None,
    prefix: str,
    seen: set[tuple[type[Model], str]],
) -> list[OrderTerm]:
    pieces = name.split(LOOKUP_SEP)
    opts = model._meta
    field: Any = None
    for index, piece in enumerate(pieces):
        if piece == "pk":
            field = opts.pk
        else:
            try:
                field = opts.get_field(piece)
            except Exception as err:
                raise SourceError(f"cannot order {model._meta.label} by {name!r}: {err}") from err
        if index < len(pieces) - 1:
            if not field.is_relation:
                # A transform (e.g. 'created__year'): order by the value itself.
                pieces = pieces[: index + 1]
                break
            opts = field.related_model._meta
    last = pieces[-1]
    path = prefix + LOOKUP_SEP.join(pieces)
    related_opts = field.related_model._meta if field.is_relation and field.related_model else None
    if (
        related_opts is not None
        and related_opts.ordering
        and getattr(field, "attname", None) != last
        and last != "pk"
    ):
        key = (field.related_model, path)
        if key in seen:
            raise SourceError(f"infinite ordering loop through {path!r}")
        terms: list[OrderTerm] = []
        for item in related_opts.ordering:
            inner, inner_desc, inner_nulls = _parse(item)
            terms.extend(
                _expand_one(
                    field.related_model,
                    inner,
                    inner_desc ^ descending,
                    inner_nulls,
                    path + LOOKUP_SEP,
                    seen | {key},
                )
            )
        return terms
    return [OrderTerm(path, descending, nulls_first)]
