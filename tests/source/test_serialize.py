"""Record texts are byte for byte what Django's serializer and ``json.dumps`` write."""

from __future__ import annotations

import datetime
import json
import random
import uuid
from decimal import Decimal
from typing import Any

import pytest

from snapexport.source.serialize import record_text


def _reference(record: Any) -> str:
    from django.core.serializers.json import DjangoJSONEncoder

    return json.dumps(record, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


class _Text(str):
    pass


class _Number(int):
    def __repr__(self) -> str:
        return "not this"


UTC = datetime.UTC


def _edge_record() -> dict[str, Any]:
    return {
        "model": "documents.document",
        "pk": 1234,
        "fields": {
            "title": 'Rechnung – ÄÖÜ "quoted" \\ \n\t\x00 \u2028 😀',
            "none": None, "yes": True, "no": False, "zero": 0, "neg": -7, "big": 10**30,
            "float": 1.5, "tiny": 1e-300, "negzero": -0.0,
            "nan": float("nan"), "inf": float("inf"), "minf": float("-inf"),
            "date": datetime.date(2023, 1, 2),
            "when": datetime.datetime(2023, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
            "naive": datetime.datetime(2023, 1, 2, 3, 4, 5),
            "time": datetime.time(1, 2, 3, 400000), "span": datetime.timedelta(days=1, seconds=5),
            "decimal": Decimal("1.50"), "uuid": uuid.UUID(int=7),
            "tags": [1, 2, 3], "empty_list": [], "empty_dict": {}, "pair": (1, "a"),
            "nested": {"a": [1, {"b": [None, [], {}, [[]]]}]},
            "keys": {3: "int", 2.5: "float", False: "bool", None: "none", "ä": "str"},
            "subclasses": [_Text("sub"), _Number(3)],
        },
    }  # fmt: skip


def test_edge_values_as_json_writes_them() -> None:
    record = _edge_record()
    assert record_text(record) == _reference(record)


def _fuzzed(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 3 or pick < 0.5:
        return rng.choice([
            None, True, False, rng.randint(-(10**9), 10**9), rng.uniform(-1e12, 1e12),
            "".join(chr(rng.choice([rng.randint(0, 0x7F), rng.randint(0x80, 0x2FFF)]))
                    for _ in range(rng.randint(0, 12))),
            datetime.datetime(2024, 5, 6, 7, 8, rng.randint(0, 59), tzinfo=UTC),
            Decimal(rng.randint(0, 10**6)) / 100,
        ])  # fmt: skip
    if pick < 0.75:
        return [_fuzzed(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        rng.choice(["k", "ü", 3, 4.5, None, False]) if rng.random() < 0.2 else f"f{i}":
        _fuzzed(rng, depth + 1)
        for i in range(rng.randint(0, 4))
    }  # fmt: skip


def test_fuzzed_values_as_json_writes_them() -> None:
    rng = random.Random(20261206)
    for _ in range(5000):
        record = {"model": "x.y", "pk": rng.randint(1, 99), "fields": _fuzzed(rng)}
        assert record_text(record) == _reference(record), record


def test_what_json_cannot_write_fails_as_json_does() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        record_text({"fields": {"x": object()}})
    with pytest.raises(TypeError, match="keys must be"):
        record_text({"fields": {(1, 2): "tuple key"}})


@pytest.mark.usefixtures("demo_site")
@pytest.mark.parametrize("natural", [False, True])
def test_every_demo_model_serializes_as_django_does(natural: bool) -> None:
    """Every model of the demo site, with its M2M prefetched (as the snapshot reads them)
    and without: the same texts as Django's own serializer followed by ``json.dumps``."""
    from django.apps import apps
    from django.core import serializers

    from snapexport.source.serialize import serialize_objects

    m2m_seen = 0
    for model in apps.get_models():
        m2m = [f.name for f in model._meta.many_to_many]
        base = model._default_manager.order_by("pk")
        if not base.exists():
            continue
        for queryset in (base, base.prefetch_related(*m2m)) if m2m else (base,):
            objects = list(queryset[:50])
            expected = [
                _reference(r)
                for r in serializers.serialize(
                    "python", objects,
                    use_natural_foreign_keys=natural, use_natural_primary_keys=natural,
                )
            ]  # fmt: skip
            got = serialize_objects(objects, natural_foreign=natural, natural_primary=natural)
            assert got == expected, model._meta.label
        if any(getattr(o, name).all() for o in objects for name in m2m):
            m2m_seen += 1
    assert m2m_seen >= 2  # documents' tags, users' and groups' permissions at least
