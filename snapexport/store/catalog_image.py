"""Catalog images: the catalog saved into the store, so a lost catalog can be rebuilt.

After each change of the snapshot tables (a committed snapshot, a prune) the writer saves,
on close, an *image*: a ``VACUUM INTO`` copy of the catalog (an ordinary SQLite file) stored
as a blob in the packs, plus a small JSON *header* chunk whose pack index entry has kind 1
(``packs.KIND_CATALOG``). A header names the image's generation, blob id, size and chunk
list, so ``rebuild`` finds the newest image by reading pack indexes alone.

Stores whose catalog lives in the local cache (S3, encrypted folders) also save each image
as one object ``catalog/<generation, 10 digits>``: zstd of the SQLite file, sealed in an
AES-256-GCM envelope when the store is encrypted. ``sync_local`` brings the cache catalog
up to date from the newest such copy, or from the packs when there is none. docs/format.md
describes both byte by byte.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import zstandard

from snapexport.catalog.content import ChunkRow
from snapexport.catalog.db import Catalog
from snapexport.catalog.images import generation_of_file
from snapexport.catalog.meta import MetaKey
from snapexport.errors import CorruptionError, StoreError
from snapexport.fsutil import atomic_writer, create_private, private_dir
from snapexport.store import packs, recovery
from snapexport.store.chunker import MIB, Chunker, ChunkerParams
from snapexport.store.crypto import NONCE_SIZE, OVERHEAD, TAG_SIZE, MasterKey
from snapexport.store.layout import CATALOG_FILE, COPIES_PREFIX
from snapexport.store.repository import BlobStore

if TYPE_CHECKING:
    from snapexport.store.backend import Backend
    from snapexport.store.config import StoreConfig
    from snapexport.store.location import StoreLocation

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

    def to_bytes(self, store_id: str) -> bytes:
        return json.dumps({
            "format": HEADER_FORMAT, "version": 1, "store": store_id, "gen": self.gen,
            "blob": self.blob.hex(), "size": self.size,
            "chunks": [c.hex() for c in self.chunks], "time": self.time,
        }).encode()  # fmt: skip

    @classmethod
    def from_bytes(cls, raw: bytes) -> ImageHeader:
        doc = json.loads(raw)
        if doc.get("format") != HEADER_FORMAT or int(doc["version"]) > 1:
            raise ValueError("not a catalog image header this snapexport understands")
        return cls(
            int(doc["gen"]), bytes.fromhex(doc["blob"]), int(doc["size"]),
            tuple(bytes.fromhex(c) for c in doc["chunks"]), str(doc["time"]),
        )  # fmt: skip


def _copy_name(gen: int) -> str:
    return f"{COPIES_PREFIX}{gen:010d}"


def _gen_of(name: str) -> int | None:
    tail = name[len(COPIES_PREFIX) :]
    return int(tail) if len(tail) == 10 and tail.isdigit() else None


def publish(store: BlobStore, *, prune_copies: bool = False) -> int | None:
    """Save an image when the snapshot tables changed; see the module docstring."""
    images = store.catalog.images
    store.flush()
    cur = images.current()
    now_state = images.state()
    has_snapshots = store.catalog.snapshots.exist()
    gen: int | None = None
    if cur.get("state") != now_state and (has_snapshots or cur):
        gen = int(str(cur.get("gen", 0))) + 1
        _save_image(store, gen, now_state)
    if not store.catalog_in_store:
        newest = int(str(images.current().get("gen", 0)))
        if newest and store.backend.stat(_copy_name(newest)) is None:
            store.ensure_lock()
            _upload_copy(store, newest)
        if prune_copies:
            _prune_copies(store, newest)
    return gen


def _save_image(store: BlobStore, gen: int, now_state: str) -> None:
    images = store.catalog.images
    path = store.tmp_dir / f"catalog-image-{os.getpid()}.sqlite"
    try:
        stamp = json.dumps({"gen": gen, "state": now_state})
        images.vacuum_into(path, {MetaKey.CATALOG_IMAGE: stamp})
        with open(path, "rb") as f:
            ref = store.put_stream(f, Chunker(IMAGE_CHUNKER, block_size=MIB),
                                   compressible=True)  # fmt: skip
        store.flush()  # blob rows (and so its chunk list) are committed by the flush
        chunk_ids = tuple(_chunk_list(store, ref.id))
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        header = ImageHeader(gen, ref.id, ref.size, chunk_ids, now)
        href = store.put_bytes(
            header.to_bytes(store.config.store_id), compressible=True, kind=packs.KIND_CATALOG
        )
        store.flush()
    finally:
        path.unlink(missing_ok=True)
    blobs = {b.hex() for b in images.blob_ids()} | {ref.id.hex(), href.id.hex()}
    with store.catalog.transaction():
        images.set_current({
            "gen": gen, "state": now_state, "blob": ref.id.hex(), "header": href.id.hex(),
        })  # fmt: skip
        images.set_blob_ids(blobs)


def _chunk_list(store: BlobStore, blob_id: bytes) -> list[bytes]:
    chunks = store.catalog.content.blob_chunk_ids(blob_id)
    if store.catalog.content.blob_size(blob_id) is None:
        raise StoreError("internal error: catalog image blob was not committed")
    return chunks


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


def _prune_copies(store: BlobStore, newest: int) -> None:
    gens = sorted(g for n, _ in store.backend.list(COPIES_PREFIX) if (g := _gen_of(n)))
    for g in gens[:-KEEP_COPIES]:
        if g < newest:
            store.ensure_lock()
            store.backend.remove(_copy_name(g))


# -- bringing a local catalog up to date ---------------------------------------------------


def sync_local(
    loc: StoreLocation,
    backend: Backend,
    config: StoreConfig,
    master: MasterKey | None,
    key_id: str | None,
    work: Path,
) -> str | None:
    """Make the cache catalog at ``work`` current: download a newer copy, or rebuild from
    the packs when there is no catalog and no copy. Returns what was done, if anything."""
    private_dir(work)
    path = work / CATALOG_FILE
    local = generation_of_file(path)
    copies = sorted(g for n, _ in backend.list(COPIES_PREFIX) if (g := _gen_of(n)))
    if copies and (local is None or copies[-1] > local):
        name = _copy_name(copies[-1])
        _download_copy(backend, master, name, path)
        return f"downloaded {name}"
    if local is None:
        rebuild_from_packs(loc, backend, config, master, key_id, work)
        return "rebuilt from packs"
    return None


def rebuild_from_packs(
    loc: StoreLocation,
    backend: Backend,
    config: StoreConfig,
    master: MasterKey | None,
    key_id: str | None,
    work: Path,
) -> tuple[int, int | None]:
    """Build a new catalog at ``work`` from the pack files alone: index every pack, load
    the newest catalog image found in them, then index the packs it does not know.

    Returns (packs indexed, image generation or None when the packs hold no image).
    """
    path = work / CATALOG_FILE
    scratch = work / "rebuild.sqlite"
    for p in (scratch, Path(str(scratch) + "-wal"), Path(str(scratch) + "-shm")):
        p.unlink(missing_ok=True)
    private_dir(work)
    catalog = Catalog.open(scratch, create=True)
    # Blobs over the scratch catalog; the caller holds the store's lock.
    store = BlobStore(loc, backend, config, catalog, write=False, work_dir=work,
                      master=master, key_id=key_id)  # fmt: skip
    try:
        report = recovery.reindex(store)
        if report.damaged:
            names = ", ".join(report.damaged[:3])
            raise CorruptionError(f"cannot rebuild the catalog: damaged pack(s) {names}")
        header, header_chunk = _newest_header(store)
        if header is not None:
            _read_image(store, header, path)  # replaces the catalog once verified
    finally:
        store.release()
    if header is None:
        os.replace(scratch, path)
        for suffix in ("-wal", "-shm"):
            Path(str(scratch) + suffix).unlink(missing_ok=True)
        return report.packs_read, None
    for p in (scratch, Path(str(scratch) + "-wal"), Path(str(scratch) + "-shm")):
        p.unlink(missing_ok=True)
    catalog = Catalog.open(path)
    store = BlobStore(loc, backend, config, catalog, write=False, work_dir=work,
                      master=master, key_id=key_id)  # fmt: skip
    try:
        _reconcile(store, header, header_chunk)
    finally:
        store.release()
    return report.packs_read, header.gen


def _newest_header(store: BlobStore) -> tuple[ImageHeader | None, bytes]:
    best: ImageHeader | None = None
    best_chunk = b""
    for row in _catalog_chunk_rows(store):
        try:
            header = ImageHeader.from_bytes(store.read_chunk(row))
        except (CorruptionError, ValueError, KeyError):
            continue
        if best is None or header.gen > best.gen:
            best, best_chunk = header, row.id
    return best, best_chunk


def _catalog_chunk_rows(store: BlobStore) -> list[ChunkRow]:
    return store.catalog.content.chunks_of_kind(packs.KIND_CATALOG)


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


def _reconcile(store: BlobStore, header: ImageHeader, header_chunk: bytes) -> None:
    """After loading an image: drop rows of packs that are gone, index packs it lacks, and
    record the image's own blobs (the image cannot contain itself)."""
    catalog = store.catalog
    present, _ = recovery.list_pack_objects(store)
    gone = [pid for pid in catalog.content.pack_ids() if pid not in present]
    with catalog.transaction():
        catalog.content.forget_packs(gone)
    recovery.reindex(store)
    # Images older than this one may have been collected after it was taken (a prune
    # saves its image, then frees the one before): their rows are dropped with them.
    older = [b for b in catalog.images.blob_ids() if b not in (header.blob, header_chunk)]
    with catalog.transaction():
        catalog.content.forget_blobs(older)
        catalog.content.insert_blob(header.blob, header.size, list(header.chunks))
        size = catalog.content.chunk_size(header_chunk)
        assert size is not None  # the header was just read from that chunk
        catalog.content.insert_blob(header_chunk, size, [header_chunk])
        blobs = {header.blob.hex(), header_chunk.hex()}
        meta = catalog.images.current()
        meta.update(blob=header.blob.hex(), header=header_chunk.hex())
        catalog.images.set_current(meta)
        catalog.images.set_blob_ids(blobs)
        catalog.set_meta(MetaKey.OPEN_WRITER, None)
