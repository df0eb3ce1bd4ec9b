"""Sort keys: a memcmp-ordered byte encoding of a row's ordering values.

Comparing two keys with ``bytes`` comparison (SQLite's BLOB order) gives the order the
database gives the rows for ``ORDER BY <terms>, pk``, under these rules:

- Every component is self-delimiting, so a key never is a prefix of another key's
  component; a descending component is the bitwise complement of the ascending one.
- NULL sorts as the database sorts it: first in ascending order on SQLite and MySQL,
  last on PostgreSQL and Oracle (``nulls_largest``), unless the term says otherwise.
- Strings compare as their UTF-8 bytes: SQLite's BINARY collation. Databases with
  locale collations (PostgreSQL's default) may disagree; the snapshot builder detects a
  disagreement by comparing this order with the order rows arrive in.
- Numbers compare by value (ints, floats and Decimals among themselves), datetimes by
  instant (aware ones in UTC), dates, times and durations chronologically, UUIDs by bytes.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

_NULL_LOW = b"\x01"
_VALUE = b"\x02"
_NULL_HIGH = b"\x03"

# Type classes keep values of different kinds apart (a column holds one kind in practice).
_BOOL, _NUMBER, _TEXT, _BYTES, _DATE, _DATETIME, _TIME, _DURATION, _UUID, _OTHER = (
    bytes([n]) for n in range(0x10, 0x1A)
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class KeyPart:
    """One ordering term's value and direction."""

    value: Any
    descending: bool = False
    nulls_first: bool | None = None  # None: the database's default


def _escape(raw: bytes) -> bytes:
    # 0x00 -> 0x00 0xFF and a 0x00 0x00 terminator: order-preserving and prefix-free.
    return raw.replace(b"\x00", b"\x00\xff") + b"\x00\x00"


def _int(value: int) -> bytes:
    # Sign class, then length-prefixed magnitude: works for any size of integer.
    if value == 0:
        return b"\x80"
    magnitude = abs(value).to_bytes((abs(value).bit_length() + 7) // 8, "big")
    body = bytes([len(magnitude)]) + magnitude
    if value > 0:
        return b"\xc0" + body
    return b"\x40" + bytes(255 - b for b in body)


def _decimal_positive(value: Decimal) -> bytes:
    _sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    adjusted = len(digits) + exponent  # value = 0.d1d2d3... * 10**adjusted
    return struct.pack(">Q", adjusted + (1 << 63)) + bytes(d + 1 for d in digits) + b"\x00"


# Decimal digit characters to the digit bytes _decimal_positive writes (digit + 1).
_DIGITS = bytes.maketrans(b"0123456789", bytes(range(1, 11)))
_adjusted = struct.Struct(">Q").pack
_EXACT_INT = 10**28  # the default decimal context's precision is 28 digits


def _int_positive(value: int) -> bytes:
    """``_decimal_positive(Decimal(value))`` for an int > 0, without the Decimal."""
    text = str(value)
    digits = text.rstrip("0").encode().translate(_DIGITS)
    return _adjusted(len(text) + (1 << 63)) + digits + b"\x00"


def _number(value: int | float | Decimal) -> bytes:
    # Ints, floats and Decimals all become decimal scientific notation (exponent, then
    # digits) so that they compare by value whatever their Python type.
    if type(value) is int and -_EXACT_INT < value < _EXACT_INT:
        # The common case (keys): the same bytes, without the Decimal. Beyond 28 digits
        # Decimal.normalize() rounds to the context's precision; those take the Decimal.
        if value > 0:
            return b"\xc0" + _int_positive(value)
        if value == 0:
            return b"\x80"
        return b"\x40" + bytes(255 - b for b in _int_positive(-value))
    if isinstance(value, float):
        if value != value:  # NaN sorts above everything, as on PostgreSQL
            return b"\xff"
        if value in (float("inf"), float("-inf")):
            return b"\xfe" if value > 0 else b"\x01"
        value = Decimal(repr(value))
    elif isinstance(value, int):
        value = Decimal(value)
    if value.is_zero():
        return b"\x80"
    if value > 0:
        return b"\xc0" + _decimal_positive(value)
    return b"\x40" + bytes(255 - b for b in _decimal_positive(-value))


def _encode_value(value: Any) -> bytes:
    if type(value) is int:
        return _NUMBER + _number(value)
    if isinstance(value, bool):
        return _BOOL + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        return _NUMBER + _number(value)
    if isinstance(value, float | Decimal):
        return _NUMBER + _number(value)
    if isinstance(value, str):
        return _TEXT + _escape(value.encode("utf-8"))
    if isinstance(value, bytes | bytearray | memoryview):
        return _BYTES + _escape(bytes(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            micros = (value - _EPOCH) // dt.timedelta(microseconds=1)
        else:
            micros = (value - _EPOCH.replace(tzinfo=None)) // dt.timedelta(microseconds=1)
        return _DATETIME + _int(micros)
    if isinstance(value, dt.date):
        return _DATE + _int(value.toordinal())
    if isinstance(value, dt.time):
        micros = ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000
        return _TIME + _int(micros + value.microsecond)
    if isinstance(value, dt.timedelta):
        return _DURATION + _int(value // dt.timedelta(microseconds=1))
    if isinstance(value, uuid.UUID):
        return _UUID + value.bytes
    return _OTHER + _escape(str(value).encode("utf-8"))


def encode_part(part: KeyPart, *, nulls_largest: bool) -> bytes:
    """The bytes of one component (already inverted when descending)."""
    if part.value is None:
        # Where NULL lands in the *final* order: first or last.
        if part.nulls_first is not None:
            null_first_in_result = part.nulls_first
        else:
            null_first_in_result = nulls_largest == part.descending
        raw = _NULL_LOW if null_first_in_result != part.descending else _NULL_HIGH
    else:
        raw = _VALUE + _encode_value(part.value)
    if part.descending:
        return bytes(255 - b for b in raw)
    return raw


def encode_key(parts: Sequence[KeyPart], *, nulls_largest: bool = False) -> bytes:
    """The whole key: components concatenated in ordering-term order."""
    return b"".join(encode_part(part, nulls_largest=nulls_largest) for part in parts)


def key_encoder(
    terms: Sequence[tuple[int, bool, bool | None]], *, nulls_largest: bool = False
) -> Callable[[Sequence[Any]], bytes]:
    """``encode_key`` for many rows: ``terms`` are (row index, descending, nulls_first).

    ``encoder(row)`` equals ``encode_key([KeyPart(row[i], d, n) for i, d, n in terms])``;
    ascending terms without a NULL skip building a KeyPart.
    """

    def encode(row: Sequence[Any]) -> bytes:
        out = []
        for index, descending, nulls_first in terms:
            value = row[index]
            if value is None or descending:
                out.append(
                    encode_part(
                        KeyPart(value, descending, nulls_first), nulls_largest=nulls_largest
                    )
                )
            else:
                out.append(_VALUE + _encode_value(value))
        return b"".join(out)

    return encode
