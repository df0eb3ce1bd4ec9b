"""The pack file format (versions 1 to 3): the one place that encodes and decodes packs.

A pack is ``header | payload ... | index | footer`` (docs/format.md, byte by byte):

* header: 8 bytes, ``b"SNXPACK"`` followed by the format version byte (``0x03``);
* payloads: the stored bytes of each chunk, back to back, in index order (in an encrypted
  store each payload is an AES-256-GCM envelope of the compressed bytes);
* index: one 49-byte entry per chunk: id (32 bytes), type (u8: low 4 bits codec, high 4
  bits kind), plain size (u32 LE), stored length (u32 LE), offset of the payload from the
  start of the file (u64 LE); encrypted stores store the index as one envelope;
* footer: 16 bytes: stored index length (u32 LE), entry count (u32 LE), ``b"SNXPIDX"`` and
  the version byte.

A pack is named by an unkeyed BLAKE3 (``PackHash``): of all its bytes up to version 2; of
its header, index and footer from version 3, whose index entries name every payload by the
id of its plain bytes (each payload is checked against that id when it is read, so hashing
the payloads a second time for the name bought nothing but CPU). Either way a pack file can
be verified without the catalog, and the catalog's chunk index rebuilt from the packs alone.
Encryption wraps payloads and the index here, and nowhere else.
"""

from __future__ import annotations

import contextlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import blake3

from snapexport.errors import CorruptionError
from snapexport.fsutil import WriteBehind, create_private
from snapexport.store.crypto import OVERHEAD, Cipher
from snapexport.store.ids import ID_SIZE, BytesLike
from snapexport.store.layout import PACKS_PREFIX

FORMAT_VERSION = 3


def _header(version: int) -> bytes:
    return b"SNXPACK" + bytes([version])


def _footer_magic(version: int) -> bytes:
    return b"SNXPIDX" + bytes([version])


HEADER = _header(FORMAT_VERSION)
FOOTER_MAGIC = _footer_magic(FORMAT_VERSION)
READABLE = {1, 2, 3}
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


def name_covers_payloads(version: int) -> bool:
    """Whether a pack of this format is named by its payloads too (1 and 2), or by its
    header, index and footer only (3 on: each payload is checked against its chunk id)."""
    return version < 3


class PackHash:
    """The pack id (its name) of a pack's bytes, fed in file order: an unkeyed BLAKE3 of
    every byte (versions 1 and 2) or of all but the payloads (version 3 on)."""

    __slots__ = ("_hash", "_index_offset", "_payloads")

    def __init__(self, version: int, index_offset: int) -> None:
        self._hash = blake3.blake3()
        self._payloads = name_covers_payloads(version)
        self._index_offset = index_offset  # where the index starts: hashed from there on

    def update(self, offset: int, data: BytesLike) -> None:
        """Feed ``data``, which starts at ``offset`` of the pack file."""
        if self._payloads:
            self._hash.update(data)
            return
        view = memoryview(data)
        if offset < HEADER_SIZE:
            self._hash.update(view[: HEADER_SIZE - offset])
        if offset + len(view) > self._index_offset:
            self._hash.update(view[max(self._index_offset - offset, 0) :])

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def version_of(data: BytesLike) -> int:
    """The format version a pack's footer (its last byte) states; 0 when there is none."""
    return data[-1] if len(data) else 0


def pack_id_of_bytes(data: BytesLike) -> str:
    """The pack id of a whole pack held in memory (its version read from its footer; a
    pack too damaged to say is hashed whole, which cannot match a version-3 name)."""
    view = memoryview(data)
    version, index_offset = 0, len(view)
    if len(view) >= HEADER_SIZE + FOOTER_SIZE:
        index_len, _, magic = _FOOTER.unpack(view[-FOOTER_SIZE:])
        if magic[:7] == FOOTER_MAGIC[:7] and index_len <= len(view) - FOOTER_SIZE:
            version, index_offset = magic[7], len(view) - FOOTER_SIZE - index_len
    h = PackHash(version, index_offset)
    h.update(0, view)
    return h.hexdigest()


# Written pack bytes go to disk in runs of this size while the pack fills (fsutil.WriteBehind).
WRITE_BEHIND = 8 << 20


class PackWriter:
    """Appends chunk payloads to a new pack file in ``tmp_dir``; ``finish`` seals it.
    ``version`` is the pack format to write (the store decides: see ``BlobStore``)."""

    def __init__(
        self, tmp_dir: Path, cipher: Cipher | None = None, version: int = FORMAT_VERSION
    ) -> None:
        if version not in (2, 3):
            raise ValueError(f"cannot write pack format {version}")
        self._cipher = cipher
        self._version = version
        fd_name = f"pack-{os.getpid()}-{os.urandom(6).hex()}.tmp"
        self.path = tmp_dir / fd_name
        fd = create_private(self.path)  # the pack is renamed into the store as it is
        self._f = open(fd, "wb", buffering=0)  # noqa: SIM115 - closed by finish/abort
        self._behind = WriteBehind(fd, WRITE_BEHIND)
        self._hash = blake3.blake3()  # the pack id: see PackHash
        self._hash_payloads = name_covers_payloads(version)
        self._entries: list[PackEntry] = []
        self.size = 0
        self._write(_header(version), named=True)

    def _write(self, data: BytesLike, *, named: bool) -> None:
        view = memoryview(data)
        try:
            while view:
                n = self._f.write(view)
                view = view[n:]
        except OSError as err:  # name the file: a full disk must say which one
            raise OSError(err.errno, err.strerror, str(self.path)) from err
        if named or self._hash_payloads:  # a payload is part of the name before version 3
            self._hash.update(data)
        self.size += len(data)
        self._behind.wrote(self.size)

    @property
    def count(self) -> int:
        return len(self._entries)

    def add(self, chunk_id: bytes, codec: int, size: int, stored: BytesLike) -> PackEntry:
        """Append one chunk's stored bytes and remember its index entry."""
        entry = PackEntry(chunk_id, codec, size, len(stored), self.size)
        self._write(stored, named=False)
        self._entries.append(entry)
        return entry

    def finish(self) -> FinishedPack:
        """Write index and footer, fsync and close; the file is then complete."""
        index = b"".join(
            _ENTRY.pack(e.id, e.codec, e.size, e.length, e.offset) for e in self._entries
        )
        if self._cipher is not None:
            index = self._cipher.seal(index)
        self._write(index, named=True)
        magic = _footer_magic(self._version)
        self._write(_FOOTER.pack(len(index), len(self._entries), magic), named=True)
        try:
            os.fsync(self._f.fileno())
        except OSError as err:
            raise OSError(err.errno, err.strerror, str(self.path)) from err
        self._behind.written()
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
