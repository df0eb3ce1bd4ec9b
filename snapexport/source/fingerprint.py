"""Row fingerprints: BLAKE3 over an exact, typed encoding of raw values.

A fingerprint must change whenever the record's serialized text (or its ``extra``) could
change. It is therefore *finer* than the text, never coarser: datetimes keep microseconds
and their offset, Decimals keep their exponent (``1.0`` differs from ``1.00``), JSON keeps
its key order, floats are compared bit for bit. Every value is tagged with its type and
length-prefixed, so no two different value sequences share an encoding.

A row made only of plain values (the exact types in ``_PLAIN``, in lists, tuples and
dicts: what database rows are made of) is encoded as its ``repr``, computed in C in one
call: for these types ``repr`` is exact (it reads back as the same value and type, floats
included) and quotes every string, so it is as fine as the tagged encoding. Any other value
(a subclass, a memoryview, an object of a custom field) sends the whole row to the tagged
encoding; the two are told apart by their first byte.
"""

from __future__ import annotations

import datetime as dt
import struct
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from blake3 import blake3

# Bump when the encoding or the set of fingerprinted inputs changes: every row then
# counts as changed once, which is safe.
FINGERPRINT_VERSION = b"snapexport-fingerprint-2"


_length = struct.Struct(">Q").pack


def _frame(tag: bytes, payload: bytes) -> bytes:
    return tag + _length(len(payload)) + payload


def encode(value: Any) -> bytes:
    """The canonical bytes of one value (recursively for lists and dicts)."""
    # Rows are mostly None, bool, int, str and datetimes: one dict lookup on the exact type
    # instead of a walk down the isinstance chain (subclasses still take the chain).
    exact = _EXACT.get(type(value))
    if exact is not None:
        return exact(value)
    return _encode_any(value)


def _encode_any(value: Any) -> bytes:
    if value is None:
        return b"N"
    if value is True:
        return b"T"
    if value is False:
        return b"F"
    if isinstance(value, int):
        return _frame(b"i", str(value).encode())
    if isinstance(value, float):
        return _frame(b"f", value.hex().encode())
    if isinstance(value, Decimal):
        return _frame(b"d", str(value).encode())
    if isinstance(value, str):
        return _frame(b"s", value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes | bytearray | memoryview):
        return _frame(b"b", bytes(value))
    if isinstance(value, dt.datetime):
        return _frame(b"t", value.isoformat().encode() + b"|" + str(value.tzinfo).encode())
    if isinstance(value, dt.date):
        return _frame(b"D", value.isoformat().encode())
    if isinstance(value, dt.time):
        return _frame(b"h", value.isoformat().encode())
    if isinstance(value, dt.timedelta):
        return _frame(b"u", str(value // dt.timedelta(microseconds=1)).encode())
    if isinstance(value, uuid.UUID):
        return _frame(b"U", value.bytes)
    if isinstance(value, list | tuple):
        return _frame(b"l", b"".join([encode(item) for item in value]))
    if isinstance(value, Mapping):
        return _frame(b"m", b"".join([encode(k) + encode(v) for k, v in value.items()]))
    return _frame(b"o", f"{type(value).__qualname__}:{value!r}".encode())


def _encode_str(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    return b"s" + _length(len(data)) + data


def _encode_int(value: int) -> bytes:
    data = b"%d" % value
    return b"i" + _length(len(data)) + data


def _encode_list(value: list[Any] | tuple[Any, ...]) -> bytes:
    return _frame(b"l", b"".join([encode(item) for item in value]))


def _encode_datetime(value: dt.datetime) -> bytes:
    return _frame(b"t", value.isoformat().encode() + b"|" + str(value.tzinfo).encode())


_EXACT: dict[type, Callable[[Any], bytes]] = {
    type(None): lambda _value: b"N",
    bool: lambda value: b"T" if value else b"F",
    int: _encode_int,
    str: _encode_str,
    list: _encode_list,
    tuple: _encode_list,
    dt.datetime: _encode_datetime,
    dt.date: lambda value: _frame(b"D", value.isoformat().encode()),
}


# Exact types whose repr is an exact, self-delimiting text of the value (no addresses, no
# truncation; a datetime's repr includes its tzinfo's, and fold).
_PLAIN: frozenset[type] = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        str,
        bytes,
        Decimal,
        dt.datetime,
        dt.date,
        dt.time,
        dt.timedelta,
        uuid.UUID,
    }
)


def is_plain(values: list[Any] | tuple[Any, ...]) -> bool:
    """Whether every value, recursively through lists, tuples and dicts, has a plain type."""
    if _PLAIN.issuperset(map(type, values)):
        return True
    for value in values:
        kind = type(value)
        if kind in _PLAIN:
            continue
        if kind is list or kind is tuple:
            if not is_plain(value):
                return False
        elif kind is dict:
            if not (is_plain(list(value)) and is_plain(list(value.values()))):
                return False
        else:
            return False
    return True


def compact(parts: tuple[Any, ...]) -> bytes:
    """The bytes a row's fingerprint hashes: ``repr`` for plain rows, else the tagged encoding."""
    if is_plain(parts):
        return b"R" + repr(parts).encode("utf-8", "surrogatepass")
    return b"E" + encode(list(parts))


class Fingerprinter:
    """Hashes rows of one section; ``salt`` holds what all rows depend on alike."""

    def __init__(self, salt: Iterable[Any]) -> None:
        base = blake3(FINGERPRINT_VERSION)
        base.update(encode(list(salt)))
        self._base = base

    def row(self, *parts: Any) -> bytes:
        """Fingerprint of one row from its parts (raw values, M2M lists, extra inputs)."""
        hasher = self._base.copy()
        hasher.update(compact(parts))
        return hasher.digest()
