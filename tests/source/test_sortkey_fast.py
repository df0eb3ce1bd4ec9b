"""The fast forms of sort keys give the same bytes as the general ones."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from snapexport.source import sortkey
from snapexport.source.sortkey import KeyPart, encode_key, key_encoder


def _decimal_number(value: int) -> bytes:
    """The general path every number took before ints had their own."""
    d = Decimal(value)
    if d.is_zero():
        return b"\x80"
    if d > 0:
        return b"\xc0" + sortkey._decimal_positive(d)
    return b"\x40" + bytes(255 - b for b in sortkey._decimal_positive(-d))


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.integers(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.integers(min_value=0, max_value=10**6).map(lambda n: n * 10**3),
    )
)
def test_int_keys_equal_the_decimal_encoding(value: int) -> None:
    assert sortkey._number(value) == _decimal_number(value)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(min_value=-(10**12), max_value=10**12), min_size=2, max_size=2))
def test_int_keys_order_like_ints(pair: list[int]) -> None:
    a, b = (encode_key([KeyPart(v)]) for v in pair)
    assert (a < b) == (pair[0] < pair[1])


_values = st.one_of(
    st.none(),
    st.integers(),
    st.booleans(),
    st.text(max_size=5),
    st.floats(allow_nan=False),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.dates(),
)
_terms = st.lists(st.tuples(st.booleans(), st.sampled_from([None, True, False])), max_size=4)


@settings(max_examples=1500, deadline=None)
@given(st.data(), _terms, st.booleans())
def test_key_encoder_equals_encode_key(
    data: Any, terms: list[tuple[bool, bool | None]], nulls_largest: bool
) -> None:
    row = [data.draw(_values) for _ in terms] + [data.draw(st.integers())]
    spec = [(i, desc, nulls) for i, (desc, nulls) in enumerate(terms)]
    spec.append((len(terms), False, None))
    parts = [KeyPart(row[i], desc, nulls) for i, desc, nulls in spec]
    assert key_encoder(spec, nulls_largest=nulls_largest)(row) == encode_key(
        parts, nulls_largest=nulls_largest
    )
