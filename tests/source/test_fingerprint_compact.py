"""The compact row encoding (``repr`` of plain rows) is as fine as the tagged encoding."""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from snapexport.source.fingerprint import Fingerprinter, compact, encode, is_plain

_zones = st.sampled_from(
    [None, dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-5))]
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(max_size=8),
    st.decimals(allow_nan=False, places=None),
    st.datetimes(timezones=_zones),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.uuids(),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
    ),
    max_leaves=12,
)


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same exact types, floats bit for bit, dicts in the same order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return _same(list(a.items()), list(b.items()))
    if isinstance(a, float):
        return struct.pack(">d", a) == struct.pack(">d", b)
    if isinstance(a, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, dt.datetime | dt.time):
        return a == b and a.tzinfo == b.tzinfo and a.fold == b.fold
    return bool(a == b)


@settings(max_examples=3000, deadline=None)
@given(_values, _values)
def test_plain_rows_share_an_encoding_only_when_they_are_the_same(a: Any, b: Any) -> None:
    assert is_plain([a]) and is_plain([b])
    if compact((a,)) == compact((b,)):
        assert _same(a, b), (a, b)
    else:
        assert not _same(a, b), (a, b)


@settings(max_examples=500, deadline=None)
@given(_values)
def test_encoding_is_stable_for_equal_copies(a: Any) -> None:
    import copy

    assert compact((a,)) == compact((copy.deepcopy(a),))


def test_values_the_text_tells_apart_differ() -> None:
    pairs = [
        (Decimal("1.0"), Decimal("1.00")),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
        (1, True),
        (1, 1.0),
        (0.0, -0.0),
        ("1", 1),
        (None, ""),
        (None, "None"),
        ([1, 2], [2, 1]),
        (["ab"], ["a", "b"]),
        (["a, 'b'"], ["a", "b"]),
        ([1], (1,)),
        (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, 0, 0, 0, 1, dt.UTC)),
        (dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 1)),
        (dt.date(2024, 1, 1), "2024-01-01"),
        (uuid.UUID(int=1), str(uuid.UUID(int=1))),
        (b"a", "a"),
    ]
    for left, right in pairs:
        assert compact((left,)) != compact((right,)), (left, right)
        assert Fingerprinter(["s"]).row([left]) != Fingerprinter(["s"]).row([right])


class _Name(str):
    pass


class _Opaque:
    def __init__(self, value: int) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "1"  # pretends to be an int


def test_other_types_take_the_tagged_encoding() -> None:
    for value in (
        memoryview(b"ab"),
        _Name("x"),
        _Opaque(1),
        [1, [_Opaque(2)]],
        {"k": _Name("v")},
        {_Name("k"): 1},
        frozenset({1}),
    ):
        assert not is_plain([value])
        assert compact((value,)) == b"E" + encode([value])
    # An object whose repr mimics a plain value does not share the plain value's encoding.
    assert compact((_Opaque(1),)) != compact((1,))
    assert compact((_Name("x"),)) != compact(("x",))


def test_parts_are_delimited() -> None:
    fp = Fingerprinter(["x"])
    assert fp.row([1, 2], []) != fp.row([1], [2])
    assert fp.row([1], [], None) != fp.row([1], [None])
    assert fp.row(["a"], [[]]) != fp.row(["a"], [])
    assert fp.row([1, "t"]) == Fingerprinter(["x"]).row([1, "t"])
