"""Sort keys order like the database: property tests against Python's own ordering."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from snapexport.source.sortkey import KeyPart, encode_key

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)))
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, max_value=10**9, min_value=-(10**9)
    ),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
datetimes = st.datetimes(timezones=st.just(dt.UTC))


def _sqlite_order(values: list, descending: bool) -> list:
    # SQLite: NULL smallest; strings by UTF-8 bytes.
    def key(v: object) -> tuple:
        if v is None:
            return (0, b"")
        if isinstance(v, str):
            return (1, v.encode())
        return (1, v)

    return sorted(values, key=key, reverse=descending)


@settings(deadline=None)  # a loaded machine must not fail a property test
@given(st.lists(st.one_of(st.none(), texts)), st.booleans())
def test_text_order(values: list[str | None], descending: bool) -> None:
    keys = sorted(values, key=lambda v: encode_key([KeyPart(v, descending)]))
    assert [None if v is None else v.encode() for v in keys] == [
        None if v is None else v.encode() for v in _sqlite_order(values, descending)
    ]


@settings(deadline=None)  # a loaded machine must not fail a property test
@given(st.lists(st.one_of(st.none(), numbers)), st.booleans())
def test_number_order(values: list, descending: bool) -> None:
    got = sorted(values, key=lambda v: encode_key([KeyPart(v, descending)]))
    want = _sqlite_order(values, descending)
    assert [None if v is None else Decimal(v) for v in got] == [
        None if v is None else Decimal(v) for v in want
    ]


@settings(deadline=None)  # a loaded machine must not fail a property test
@given(st.lists(st.tuples(datetimes, texts, st.integers())))
def test_compound_order(rows: list[tuple[dt.datetime, str, int]]) -> None:
    got = sorted(
        rows,
        key=lambda r: encode_key([KeyPart(r[0], True), KeyPart(r[1]), KeyPart(r[2])]),
    )
    want = sorted(rows, key=lambda r: (-r[0].timestamp(), r[1].encode(), r[2]))
    assert [(-r[0].timestamp(), r[1].encode(), r[2]) for r in got] == [
        (-r[0].timestamp(), r[1].encode(), r[2]) for r in want
    ]


def test_nulls_last_on_postgres_and_explicit_placement() -> None:
    values = [None, 1, 2]
    pg = sorted(values, key=lambda v: encode_key([KeyPart(v)], nulls_largest=True))
    assert pg == [1, 2, None]
    pg_desc = sorted(values, key=lambda v: encode_key([KeyPart(v, True)], nulls_largest=True))
    assert pg_desc == [None, 2, 1]
    explicit = sorted(values, key=lambda v: encode_key([KeyPart(v, False, nulls_first=False)]))
    assert explicit == [1, 2, None]


def test_other_types() -> None:
    days = [dt.date(2024, 1, 2), dt.date(2023, 12, 31)]
    assert sorted(days, key=lambda v: encode_key([KeyPart(v)])) == sorted(days)
    spans = [dt.timedelta(hours=1), dt.timedelta(seconds=-1)]
    assert sorted(spans, key=lambda v: encode_key([KeyPart(v)])) == sorted(spans)
    assert encode_key([KeyPart(False)]) < encode_key([KeyPart(True)])
