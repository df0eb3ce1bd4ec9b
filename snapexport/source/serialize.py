"""Record texts exactly as ``document_exporter`` and ``dumpdata`` write them.

Django's python serializer gives ``{"model", "pk", "fields"}``; each record's text is
``json.dumps(record, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)``: the bytes
paperless's manifest and ``dumpdata --indent 2`` hold for that record.

Both steps are Django's and the standard library's, with two costs of theirs taken out of a
first snapshot's records pass (profiled at 10,000 documents; docs/performance.md):

* Django's serializer builds, for every M2M field of every object, the queryset it would
  run without a prefetch, even when the prefetched list is there (it is the default
  argument of a ``dict.get``): about a sixth of the records pass. ``_Serializer`` reads the
  prefetched list first and leaves everything else to Django.
* ``json.dumps`` with ``indent`` runs the standard library's pure-Python encoder, a chain of
  generators yielding a token at a time. ``record_text`` writes the same bytes in one
  recursive pass, with the C string escaper ``json`` itself uses.

Tests compare both with Django's and ``json``'s own output, on real models and on fuzzed
values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from json.encoder import encode_basestring  # the C escaper where CPython has it
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.core.serializers.python import Serializer as PythonSerializer
from django.db.models import Model

_INDENT = "  "
_default: Callable[[Any], Any] = DjangoJSONEncoder().default
_INFINITY = float("inf")


def record_text(record: dict[str, Any]) -> str:
    """One record's text, as the exporter joins them into a manifest:
    ``json.dumps(record, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)``."""
    out: list[str] = []
    _value(record, "\n", out)
    return "".join(out)


def _scalar(o: Any) -> str | None:
    """``o`` as ``json`` writes it, None for containers and what ``default`` converts. The
    order of the tests is ``json``'s: a bool is an int, a str subclass is a str."""
    if isinstance(o, str):
        return encode_basestring(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        if o != o:
            return "NaN"
        if o == _INFINITY:
            return "Infinity"
        if o == -_INFINITY:
            return "-Infinity"
        return float.__repr__(o)
    return None


def _key(k: Any) -> str:
    if isinstance(k, str):
        return encode_basestring(k)
    text = _scalar(k)  # json turns float, int, bool and None keys into their text
    if text is None:
        raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")
    return f'"{text}"'


def _value(o: Any, newline: str, out: list[str]) -> None:
    """Append ``o`` indented as at ``newline`` (a newline and the current indent)."""
    text = _scalar(o)
    if text is not None:
        out.append(text)
    elif isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = newline + _INDENT
        sep = "[" + inner
        for item in o:
            out.append(sep)
            _value(item, inner, out)
            sep = "," + inner
        out.append(newline + "]")
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = newline + _INDENT
        sep = "{" + inner
        for k, item in o.items():
            out.append(sep + _key(k) + ": ")
            _value(item, inner, out)
            sep = "," + inner
        out.append(newline + "}")
    else:
        _value(_default(o), newline, out)


class _Serializer(PythonSerializer):
    """Django's python serializer, except that a prefetched M2M list is read without first
    building the queryset Django would otherwise run."""

    def handle_m2m_field(self, obj: Model, field: Any) -> None:
        cached = getattr(obj, "_prefetched_objects_cache", {}).get(field.name)
        if cached is None or not field.remote_field.through._meta.auto_created:
            super().handle_m2m_field(obj, field)
            return
        if self.use_natural_foreign_keys and hasattr(field.remote_field.model, "natural_key"):
            self._current[field.name] = [related.natural_key() for related in cached]
        else:
            self._current[field.name] = [
                self._value_from_field(related, related._meta.pk) for related in cached
            ]


def serialize_objects(
    objects: Sequence[Model], *, natural_foreign: bool = False, natural_primary: bool = False
) -> list[str]:
    """The texts of ``objects``, in their order (prefetch M2M on the queryset first)."""
    serializer = _Serializer()
    serializer.serialize(
        objects,
        use_natural_foreign_keys=natural_foreign,
        use_natural_primary_keys=natural_primary,
    )
    return [record_text(record) for record in serializer.getvalue()]
