"""Fingerprints are finer than the record text: every visible difference shows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from snapexport.source.fingerprint import Fingerprinter, encode


def test_values_the_text_tells_apart_have_different_encodings() -> None:
    pairs = [
        (Decimal("1.0"), Decimal("1.00")),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        (1, True),
        (1, 1.0),
        ("1", 1),
        (None, ""),
        ([1, 2], [2, 1]),
        (["ab"], ["a", "b"]),
        (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, 0, 0, 0, 1, dt.UTC)),
        (dt.date(2024, 1, 1), "2024-01-01"),
    ]
    for left, right in pairs:
        assert encode(left) != encode(right), (left, right)


def test_salt_and_parts_matter() -> None:
    a = Fingerprinter(["x"])
    b = Fingerprinter(["y"])
    assert a.row([1]) != b.row([1])
    assert a.row([1], []) != a.row([1], [[]])
    assert a.row([1, "t"]) == Fingerprinter(["x"]).row([1, "t"])
