"""The pack file format (versions 1 and 2): the one place that encodes and decodes packs.

A pack is ``header | payload ... | index | footer`` (docs/format.md, byte by byte):

* header: 8 bytes, ``b"SNXPACK"`` followed by the format version byte (``0x02``);
* payloads: the stored bytes of each chunk, back to back, in index order (in an encrypted
  store each payload is an AES-256-GCM envelope of the compressed bytes);
* index: one 49-byte entry per chunk: id (32 bytes), type (u8: low 4 bits codec, high 4
  bits kind), plain size (u32 LE), stored length (u32 LE), offset of the payload from the
  start of the file (u64 LE); encrypted stores store the index as one envelope;
* footer: 16 bytes: stored index length (u32 LE), entry count (u32 LE), ``b"SNXPIDX"`` and
  the version byte.

A pack is named by the unkeyed BLAKE3 of all its bytes, so a pack file can be verified
without the catalog, and the catalog's chunk index can be rebuilt from the packs alone. A
future encryption layer wraps payloads and the index here, and nowhere else.
"""

from __future__ import annotations

import contextlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import blake3

from snapexport.errors import CorruptionError
from snapexport.fsutil import create_private
from snapexport.store.crypto import OVERHEAD, Cipher
from snapexport.store.ids import ID_SIZE, BytesLike
from snapexport.store.layout import PACKS_PREFIX

FORMAT_VERSION = 2
HEADER = b"SNXPACK" + bytes([FORMAT_VERSION])
FOOTER_MAGIC = b"SNXPIDX" + bytes([FORMAT_VERSION])
READABLE = {1, 2}
HEADER_SIZE = len(HEADER)
KIND_DATA = 0  # an ordinary chunk
KIND_CATALOG = 1  # the header of a catalog image or checkpoint (docs/format.md)
KIND_JOURNAL = 2  # the header of a catalog delta (docs/format.md, "Store format 3")
_ENTRY = struct.Struct("<32sBIIQ")
_FOOTER = struct.Struct("<II8s")
ENTRY_SIZE = _ENTRY.size
FOOTER_SIZE = _FOOTER.size


@dataclass(frozen=True, slots=True)
class PackEntry:
    """Where one chunk sits inside a pack and how it is stored."""

    id: bytes
    codec: int
    size: int
    length: int
    offset: int


@dataclass(frozen=True, slots=True)
class FinishedPack:
    """A complete, fsynced pack file waiting in the temp folder to be saved under its name."""

    path: Path
    id: str
    size: int
    entries: tuple[PackEntry, ...]


def object_name(pack_id: str) -> str:
    """The backend name of a pack: ``packs/<first 2 hex>/<64 hex>``."""
    return f"{PACKS_PREFIX}{pack_id[:2]}/{pack_id}"


def pack_id_of(name: str) -> str | None:
    """The pack id in a backend name, or None when the name is not a well-formed pack name."""
    parts = name.split("/")
    if len(parts) != 3 or parts[0] + "/" != PACKS_PREFIX:
        return None
    pid = parts[2]
    if len(pid) != 2 * ID_SIZE or parts[1] != pid[:2]:
        return None
    try:
        bytes.fromhex(pid)
    except ValueError:
        return None
    return pid


class PackWriter:
    """Appends chunk payloads to a new pack file in ``tmp_dir``; ``finish`` seals it."""

    def __init__(self, tmp_dir: Path, cipher: Cipher | None = None) -> None:
        self._cipher = cipher
        fd_name = f"pack-{os.getpid()}-{os.urandom(6).hex()}.tmp"
        self.path = tmp_dir / fd_name
        fd = create_private(self.path)  # the pack is renamed into the store as it is
        self._f = open(fd, "wb", buffering=0)  # noqa: SIM115 - closed by finish/abort
        self._hash = blake3.blake3()
        self._entries: list[PackEntry] = []
        self.size = 0
        self._write(HEADER)

    def _write(self, data: BytesLike) -> None:
        view = memoryview(data)
        try:
            while view:
                n = self._f.write(view)
                view = view[n:]
        except OSError as err:  # name the file: a full disk must say which one
            raise OSError(err.errno, err.strerror, str(self.path)) from err
        self._hash.update(data)
        self.size += len(data)

    @property
    def count(self) -> int:
        return len(self._entries)

    def add(self, chunk_id: bytes, codec: int, size: int, stored: BytesLike) -> PackEntry:
        """Append one chunk's stored bytes and remember its index entry."""
        entry = PackEntry(chunk_id, codec, size, len(stored), self.size)
        self._write(stored)
        self._entries.append(entry)
        return entry

    def finish(self) -> FinishedPack:
        """Write index and footer, fsync and close; the file is then complete."""
        index = b"".join(
            _ENTRY.pack(e.id, e.codec, e.size, e.length, e.offset) for e in self._entries
        )
        if self._cipher is not None:
            index = self._cipher.seal(index)
        self._write(index)
        self._write(_FOOTER.pack(len(index), len(self._entries), FOOTER_MAGIC))
        try:
            os.fsync(self._f.fileno())
        except OSError as err:
            raise OSError(err.errno, err.strerror, str(self.path)) from err
        self._f.close()
        return FinishedPack(self.path, self._hash.hexdigest(), self.size, tuple(self._entries))

    def abort(self) -> None:
        """Close and delete the unfinished file."""
        self._f.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def entry_type(codec: int, kind: int) -> int:
    """The type byte of an index entry (and of the catalog's ``codec`` column)."""
    return (kind << 4) | codec


def codec_of(type_byte: int) -> int:
    return type_byte & 0x0F


def kind_of(type_byte: int) -> int:
    return type_byte >> 4


def index_span(footer: bytes, pack_size: int, *, encrypted: bool = False) -> tuple[int, int]:
    """From the last 16 bytes of a pack, the (offset, stored length) of its index."""
    if len(footer) != FOOTER_SIZE:
        raise CorruptionError("pack is too short for a footer")
    index_len, count, magic = _FOOTER.unpack(footer)
    if magic[:7] != FOOTER_MAGIC[:7] or magic[7] not in READABLE:
        raise CorruptionError("pack footer magic is wrong (truncated or not a pack)")
    expect = count * ENTRY_SIZE + (OVERHEAD if encrypted and magic[7] >= 2 else 0)
    if index_len != expect or index_len + FOOTER_SIZE + HEADER_SIZE > pack_size:
        raise CorruptionError("pack footer sizes do not fit the file")
    return pack_size - FOOTER_SIZE - index_len, index_len


def parse_index(
    index: BytesLike, index_offset: int, cipher: Cipher | None = None
) -> tuple[PackEntry, ...]:
    """Decode a stored index (decrypting it first in an encrypted store) and check that its
    payloads tile the pack between header and index."""
    if cipher is not None:
        try:
            index = cipher.open(index)
        except CorruptionError:
            raise CorruptionError("pack index fails authentication (damaged)") from None
    entries = tuple(
        PackEntry(*_ENTRY.unpack_from(index, i)) for i in range(0, len(index), ENTRY_SIZE)
    )
    expect = HEADER_SIZE
    for e in entries:
        if e.offset != expect:
            raise CorruptionError("pack index offsets are not contiguous")
        expect += e.length
    if expect != index_offset:
        raise CorruptionError("pack index does not cover the payload area")
    return entries


def header_ok(data: BytesLike) -> bool:
    """Whether ``data`` (a pack's first bytes) opens with the header of a readable version."""
    return len(data) >= HEADER_SIZE and data[:7] == HEADER[:7] and data[7] in READABLE


def parse_pack(data: bytes, cipher: Cipher | None = None) -> tuple[PackEntry, ...]:
    """Decode the index of a whole pack held in memory, checking header and footer."""
    if not header_ok(data):
        raise CorruptionError("pack header magic is wrong")
    offset, length = index_span(data[-FOOTER_SIZE:], len(data), encrypted=cipher is not None)
    return parse_index(data[offset : offset + length], offset, cipher)
