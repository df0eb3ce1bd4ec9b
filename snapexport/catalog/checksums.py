"""How the catalog keeps the database's file checksums (schema 4, docs/format.md).

A checksum of 32 or 64 lowercase hex characters (an MD5 or a SHA-256 digest, as paperless
writes them) is kept as its 16 or 32 raw bytes; any other value is kept as the text it is.
Readers get the text back either way; nothing outside catalog/ sees the bytes. Rows written
before schema 4 keep their text (the migration does not rewrite them, and neither does the
replay of an older delta), so a rebuilt catalog equals the live one row for row.
"""

from __future__ import annotations

_HEX = frozenset("0123456789abcdef")


def pack(checksum: str | None) -> str | bytes | None:
    """What ``file_spans.checksum`` holds for this checksum."""
    if checksum is not None and len(checksum) in (32, 64) and _HEX.issuperset(checksum):
        return bytes.fromhex(checksum)
    return checksum


def keys(checksum: str) -> tuple[str | bytes, str | bytes]:
    """The values ``substr(checksum, 1, 16)`` (index file_spans_checksum) may have for a
    row holding this checksum: packed (schema 4) and as text (older rows)."""
    packed = pack(checksum)
    return packed[:16], checksum[:16]  # type: ignore[index]


def as_text(column: str) -> str:
    """SQL giving the checksum in ``column`` as the text it was (NULL stays NULL)."""
    return f"CASE WHEN typeof({column}) = 'blob' THEN lower(hex({column})) ELSE {column} END"
