"""Catalog images: full copies of the catalog, the checkpoints of the catalog journal.

An *image* is a ``VACUUM INTO`` copy of the catalog (an ordinary SQLite file) stored as a
blob in the packs, plus a small JSON *header* chunk whose pack index entry has kind 1
(``packs.KIND_CATALOG``) naming its generation, blob id, size and chunk list. Format 2
saved one after every write; format 3 saves one as a journal *checkpoint* now and then
(store/journal.py decides when; store/journal_rebuild.py reads them back).

Stores whose catalog lives in the local cache (S3, encrypted folders) also keep full
copies ``catalog/<generation, 10 digits>``: zstd of the SQLite file, sealed in an
AES-256-GCM envelope when the store is encrypted, written and read here as streams.
docs/format.md describes both byte by byte.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import zstandard

from snapexport.errors import CorruptionError, StoreError
from snapexport.fsutil import atomic_writer, create_private
from snapexport.store.chunker import MIB, ChunkerParams
from snapexport.store.crypto import NONCE_SIZE, OVERHEAD, TAG_SIZE, MasterKey
from snapexport.store.layout import COPIES_PREFIX
from snapexport.store.repository import BlobStore

if TYPE_CHECKING:
    from snapexport.store.backend import Backend

HEADER_FORMAT = "snapexport-catalog-image"
KEEP_COPIES = 3  # copies kept by a prune (snapshots never delete anything)
# Images are cut finer than file content and read in small blocks: the put then holds a few
# MiB whatever the catalog's size (with the store's 8 MiB chunks it held over 100 MB at
# 20,000 documents). Readers follow the header's chunk list, so the cut is not part of the
# format. Small chunks barely dedup successive images (a VACUUM image changes throughout).
IMAGE_CHUNKER = ChunkerParams(min_size=MIB // 16, avg_size=MIB // 4, max_size=MIB // 2)
_COPY_BLOCK = 4 * MIB
_DECOMPRESS_STEP = 256 * 1024


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """The JSON header chunk of one image."""

    gen: int
    blob: bytes
    size: int
    chunks: tuple[bytes, ...]
    time: str
    #: version 2 (a format-3 checkpoint) names the body id of the entry before it
    parent: bytes | None = None
    version: int = 2

    def to_bytes(self, store_id: str) -> bytes:
        doc: dict[str, object] = {
            "format": HEADER_FORMAT, "version": self.version, "store": store_id,
            "gen": self.gen, "blob": self.blob.hex(), "size": self.size,
            "chunks": [c.hex() for c in self.chunks], "time": self.time,
        }  # fmt: skip
        if self.version >= 2:
            doc["parent"] = self.parent.hex() if self.parent else None
        return json.dumps(doc).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> ImageHeader:
        doc = json.loads(raw)
        version = int(doc["version"])
        if doc.get("format") != HEADER_FORMAT or version > 2:
            raise ValueError("not a catalog image header this snapexport understands")
        parent = doc.get("parent")
        return cls(
            int(doc["gen"]), bytes.fromhex(doc["blob"]), int(doc["size"]),
            tuple(bytes.fromhex(c) for c in doc["chunks"]), str(doc["time"]),
            bytes.fromhex(parent) if parent else None, version,
        )  # fmt: skip


def _copy_name(gen: int) -> str:
    return f"{COPIES_PREFIX}{gen:010d}"


def _gen_of(name: str) -> int | None:
    tail = name[len(COPIES_PREFIX) :]
    return int(tail) if len(tail) == 10 and tail.isdigit() else None


def _compressed(src: BinaryIO) -> Iterator[bytes]:
    # the frame checksum catches damage to an unencrypted copy (encrypted ones have a tag)
    zc = zstandard.ZstdCompressor(level=10, write_checksum=True)
    cobj = zc.compressobj(size=os.fstat(src.fileno()).st_size)
    while block := src.read(_COPY_BLOCK):
        yield cobj.compress(block)
    yield cobj.flush()


def _upload_copy(store: BlobStore, gen: int) -> None:
    """Upload the catalog as copy ``gen``: zstd, sealed when encrypted, streamed through a
    temporary file so memory stays small whatever the catalog's size."""
    path = store.tmp_dir / f"catalog-copy-{os.getpid()}.sqlite"
    sealed = store.tmp_dir / f"catalog-copy-{os.getpid()}.sealed"
    try:
        store.catalog.images.vacuum_into(path)
        sealed.unlink(missing_ok=True)
        with open(path, "rb") as src, open(create_private(sealed), "wb") as dst:
            pieces = _compressed(src)
            for piece in store.cipher.seal_stream(pieces) if store.cipher else pieces:
                dst.write(piece)
            dst.flush()
            os.fsync(dst.fileno())
        store.backend.save(_copy_name(gen), sealed)
    finally:
        path.unlink(missing_ok=True)
        sealed.unlink(missing_ok=True)


def _ranged(backend: Backend, name: str, start: int, end: int) -> Iterator[bytes]:
    pos = start
    while pos < end:
        data = backend.load(name, pos, min(_COPY_BLOCK, end - pos))
        if not data:
            raise CorruptionError(f"catalog copy {name} is truncated")
        yield data
        pos += len(data)


def _download_copy(backend: Backend, master: MasterKey | None, name: str, target: Path) -> None:
    """Replace the catalog at ``target`` with copy ``name``, streamed: decrypted and
    decompressed into a temporary file, which replaces ``target`` only once the whole copy
    is read and (when encrypted) authenticated."""
    size = backend.stat(name)
    if size is None:
        raise StoreError(f"catalog copy {name} disappeared while being read")
    pieces: Iterator[bytes]
    if master is not None:
        if size < OVERHEAD:
            raise CorruptionError(f"catalog copy {name} is damaged: too short")
        nonce = backend.load(name, 0, NONCE_SIZE)
        tag = backend.load(name, size - TAG_SIZE, TAG_SIZE)
        body = _ranged(backend, name, NONCE_SIZE, size - TAG_SIZE)
        pieces = master.cipher().open_stream(nonce, tag, body)
    else:
        pieces = _ranged(backend, name, 0, size)
    dobj = zstandard.ZstdDecompressor().decompressobj()
    try:
        with _catalog_writer(target) as f:
            for piece in pieces:
                view = memoryview(piece)
                # small steps bound the output of one call (a catalog compresses ~10x)
                for at in range(0, len(view), _DECOMPRESS_STEP):
                    f.write(dobj.decompress(view[at : at + _DECOMPRESS_STEP]))
            if not dobj.eof:
                raise CorruptionError(f"catalog copy {name} is damaged: truncated")
    except zstandard.ZstdError as err:
        raise CorruptionError(f"catalog copy {name} is damaged: {err}") from None
    except CorruptionError as err:
        if str(err).startswith("catalog copy"):
            raise
        raise CorruptionError(f"catalog copy {name} is damaged: {err}") from None


@contextlib.contextmanager
def _catalog_writer(path: Path) -> Iterator[BinaryIO]:
    """Write a new catalog file atomically in place of ``path`` (its WAL files go too)."""
    with atomic_writer(path) as f:
        yield f
        f.flush()
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


def _read_image(store: BlobStore, header: ImageHeader, target: Path) -> None:
    """Write the image as the catalog at ``target``; it replaces ``target`` only once its
    chunks are all read and its id verified."""
    rows = store.catalog.content.chunk_rows(list(header.chunks))
    h = store.ids.hasher()
    with _catalog_writer(target) as f:
        for cid in header.chunks:
            if cid not in rows:
                raise CorruptionError(f"catalog image {header.gen} needs missing chunk {cid.hex()}")
            data = store.read_chunk(rows[cid])
            h.update(data)
            f.write(data)
        single = len(header.chunks) == 1 and header.chunks[0] == header.blob
        if not single and h.digest() != header.blob:
            raise CorruptionError(f"catalog image {header.gen} does not match its id")
