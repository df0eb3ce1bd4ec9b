"""The one id function of a store: BLAKE3 of plain bytes, keyed once the store is encrypted.

Chunk ids and blob ids come from the same function, so a blob of exactly one chunk has the
chunk's id. Pack names are *not* made here: a pack is named by the unkeyed BLAKE3 of its
stored bytes (see ``packs.py``), which reveals nothing even when chunks are encrypted.
"""

from __future__ import annotations

from typing import TypeAlias

import blake3

ID_SIZE = 32

BytesLike: TypeAlias = bytes | bytearray | memoryview


class Ids:
    """Computes chunk and blob ids; ``key`` (32 bytes) switches to keyed BLAKE3."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes | None = None) -> None:
        if key is not None and len(key) != ID_SIZE:
            raise ValueError("an id key is 32 bytes")
        self._key = key

    @property
    def keyed(self) -> bool:
        return self._key is not None

    def hasher(self) -> blake3.blake3:
        """A fresh incremental hasher for content fed piece by piece (a blob's chunks)."""
        if self._key is None:
            return blake3.blake3()
        return blake3.blake3(key=self._key)

    def of(self, data: BytesLike) -> bytes:
        """The id of ``data`` (a chunk, or the whole content of a blob)."""
        h = self.hasher()
        h.update(data)
        return h.digest()

    def blob_hash(self) -> BlobHash:
        """The blob id of content fed chunk by chunk (see ``BlobHash``)."""
        return BlobHash(self)


class BlobHash:
    """The blob-id rule, fed a blob's chunks in order: no chunk gives the id of ``b""``, one
    chunk gives that chunk's id (no second pass over its bytes), more give the id of the
    whole content. The one place the rule lives: storing and preparing both use it."""

    __slots__ = ("_first", "_first_id", "_hash", "_ids")

    def __init__(self, ids: Ids) -> None:
        self._ids = ids
        self._first: BytesLike | None = None
        self._first_id = b""
        self._hash: blake3.blake3 | None = None

    def add(self, chunk: BytesLike, chunk_id: bytes) -> None:
        if self._first is None:
            self._first, self._first_id = chunk, chunk_id
            return
        if self._hash is None:  # a second chunk: only now does the whole content count
            self._hash = self._ids.hasher()
            self._hash.update(self._first)
        self._hash.update(chunk)

    def digest(self) -> bytes:
        if self._first is None:
            return self._ids.of(b"")
        return self._first_id if self._hash is None else self._hash.digest()
