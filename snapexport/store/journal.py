"""The catalog journal in the store: a delta per committed write, a checkpoint now and then.

On close a writer whose catalog changed (the journal log of catalog/journal.py is not
empty) stores a *delta*: an SQLite file of the rows it changed, as a blob, plus a small
JSON header chunk of pack index kind 2 naming its generation, its parent (the body id of
the entry before) and its chunk list. When no checkpoint exists yet, or the deltas since
the newest checkpoint would outweigh ``CHECKPOINT_SHARE`` of it, it stores a checkpoint
(a catalog image, catalog_image.py) instead. Stores whose catalog lives in the cache also
upload each entry as a catalog copy. A format-2 store is upgraded here: its first
format-3 entry is a checkpoint, and only then is ``config`` rewritten as version 3.

docs/format.md ("Store format 3") describes every byte and every crash window.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import zstandard

from snapexport import faults
from snapexport.catalog import journal as cj
from snapexport.catalog.meta import MetaKey
from snapexport.errors import StoreError
from snapexport.fsutil import create_private
from snapexport.store import catalog_image, packs
from snapexport.store.catalog_image import IMAGE_CHUNKER, ImageHeader
from snapexport.store.chunker import MIB, Chunker, ChunkerParams
from snapexport.store.layout import COPIES_PREFIX

if TYPE_CHECKING:
    from snapexport.store.repository import BlobStore as Store

DELTA_HEADER_FORMAT = "snapexport-catalog-delta"
CHECKPOINT_SHARE = 0.5  # deltas since the newest checkpoint may weigh up to half of it
DELTA_COPY_SUFFIX = ".delta"
_LEN = struct.Struct("<I")
# a header is always one chunk (its id is then its blob id, and a scan of pack indexes
# finds it whole): up to 1 MiB, a chunk list of some 15,000 chunks (a 3.9 GB catalog)
HEADER_CHUNKER = ChunkerParams(min_size=MIB, avg_size=2 * MIB, max_size=4 * MIB)
_BLOCK = 4 * MIB

# Fault points (SNAPEXPORT_FAULT=journal:<point>=kill): after-body (body stored, pending
# recorded, no header), after-header (header stored, entry not committed), after-commit
# (entry committed, copy not uploaded), before-config (upgrade: checkpoint committed,
# config still version 2).
CRASH_POINTS = ("after-body", "after-header", "after-commit", "before-config")


@dataclass(frozen=True, slots=True)
class DeltaHeader:
    """The JSON header chunk of one delta (pack index kind 2)."""

    gen: int
    parent: bytes | None
    blob: bytes
    size: int
    chunks: tuple[bytes, ...]
    time: str

    def to_bytes(self, store_id: str) -> bytes:
        return json.dumps({
            "format": DELTA_HEADER_FORMAT, "version": 1, "store": store_id, "gen": self.gen,
            "parent": self.parent.hex() if self.parent else None, "blob": self.blob.hex(),
            "size": self.size, "chunks": [c.hex() for c in self.chunks], "time": self.time,
        }).encode()  # fmt: skip

    @classmethod
    def from_bytes(cls, raw: bytes) -> DeltaHeader:
        doc = json.loads(raw)
        if doc.get("format") != DELTA_HEADER_FORMAT or int(doc["version"]) > 1:
            raise ValueError("not a catalog delta header this snapexport understands")
        parent = doc.get("parent")
        return cls(
            int(doc["gen"]), bytes.fromhex(parent) if parent else None,
            bytes.fromhex(doc["blob"]), int(doc["size"]),
            tuple(bytes.fromhex(c) for c in doc["chunks"]), str(doc["time"]),
        )  # fmt: skip


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def head_of(store: Store) -> tuple[int, bytes | None]:
    """(generation, body id) of the newest entry; a format-2 store's newest image has no
    usable body id for the chain (its image was never a journal entry): parent None."""
    head = store.catalog.journal.head()
    if head:
        return int(str(head["gen"])), bytes.fromhex(str(head["blob"]))
    return int(str(store.catalog.images.current().get("gen", 0))), None


def publish(store: Store, *, prune_copies: bool = False, checkpoint: bool = False) -> int | None:
    """Save what this writer changed (a delta or a checkpoint); upgrade a format-2 store.

    ``checkpoint`` asks for a checkpoint whatever the deltas weigh: a prune rewrites much of
    the catalog anyway, and its checkpoint lets the same prune free every entry before it.
    Returns the generation of the entry written, or None when nothing changed.
    """
    journal = store.catalog.journal
    store.flush()
    finish_pending(store)
    # a catalog big enough gets its record-text dictionary before it is saved (the texts
    # are rewritten once; the entry below then carries them)
    store.ensure_lock()
    store.catalog.record_texts.train_if_due()
    gen, parent = head_of(store)
    entries = journal.entries()
    changed = journal.log_max() > 0
    upgrading = store.config.version < 3
    written: int | None = None
    fresh: dict[int, Path] = {}
    try:
        has_data = store.catalog.snapshots.exist()
        # blobs alone (no snapshot ever committed) are nothing a rebuild needs (format 2
        # alike); anything snapshot-level is, even when no snapshot is left
        worth = has_data or bool(entries) or gen > 0 or journal.logged_beyond_content()
        if upgrading:
            if worth and (changed or not entries):
                written = _checkpoint(store, gen + 1, parent)
            faults.checkpoint("journal:before-config")
            store.ensure_lock()
            store.config = dataclasses.replace(store.config, version=3)
            store.config.write(store.backend)
        elif worth and (changed or not entries):
            if checkpoint or journal.checkpoint_due():
                written = _checkpoint(store, gen + 1, parent)
            else:
                written = _delta_or_checkpoint(store, gen + 1, parent, entries, fresh)
        if not store.catalog_in_store:
            _ensure_copies(store, fresh)
            if prune_copies:
                _prune_copies(store)
    finally:
        for path in fresh.values():
            path.unlink(missing_ok=True)
    return written


def _delta_or_checkpoint(
    store: Store, gen: int, parent: bytes | None, entries: list[cj.Entry], fresh: dict[int, Path]
) -> int:
    checkpoint = entries[0] if entries and entries[0].kind == "checkpoint" else None
    if checkpoint is None:
        return _checkpoint(store, gen, parent)
    journal = store.catalog.journal
    path = store.tmp_dir / f"catalog-delta-{os.getpid()}-{gen}.sqlite"
    upto = journal.log_max()
    journal.write_delta(path, upto, {
        "gen": str(gen), "parent": parent.hex() if parent else "",
        "store": store.config.store_id, "time": _now(),
    })  # fmt: skip
    size = path.stat().st_size
    since = sum(e.size for e in entries if e.kind == "delta")
    if since + size > CHECKPOINT_SHARE * checkpoint.size:
        path.unlink(missing_ok=True)
        return _checkpoint(store, gen, parent)
    fresh[gen] = path

    def header(ref_id: bytes, chunks: tuple[bytes, ...]) -> bytes:
        return DeltaHeader(gen, parent, ref_id, size, chunks, _now()).to_bytes(
            store.config.store_id
        )

    _store_entry(store, "delta", gen, path, size, upto, header, packs.KIND_JOURNAL, parent)
    return gen


def _checkpoint(store: Store, gen: int, parent: bytes | None) -> int:
    path = store.tmp_dir / f"catalog-checkpoint-{os.getpid()}.sqlite"
    upto = store.catalog.journal.log_max()
    try:
        store.catalog.images.vacuum_into(path, {MetaKey.CATALOG_IMAGE: json.dumps({"gen": gen})})
        cj.clean_image(path)
        size = path.stat().st_size

        def header(ref_id: bytes, chunks: tuple[bytes, ...]) -> bytes:
            return ImageHeader(gen, ref_id, size, chunks, _now(), parent).to_bytes(
                store.config.store_id
            )

        _store_entry(store, "checkpoint", gen, path, size, upto, header, packs.KIND_CATALOG,
                     parent)  # fmt: skip
    finally:
        path.unlink(missing_ok=True)
    # the local catalog as compact as the image just saved (a rare, whole-catalog moment)
    store.catalog.compact()
    return gen


def _store_entry(
    store: Store,
    kind: str,
    gen: int,
    body: Path,
    size: int,
    upto: int,
    make_header: Callable[[bytes, tuple[bytes, ...]], bytes],
    index_kind: int,
    parent: bytes | None,
) -> None:
    """Steps 1-4 of "Writing an entry" (docs/format.md)."""
    with open(body, "rb") as f:
        ref = store.put_stream(f, Chunker(IMAGE_CHUNKER, block_size=MIB), compressible=True)
    store.flush()
    chunks = tuple(store.catalog.content.blob_chunk_ids(ref.id))
    raw: bytes = make_header(ref.id, chunks)
    if len(raw) >= HEADER_CHUNKER.min_size:
        raise StoreError(f"catalog journal header of generation {gen} is too large")
    header_id = store.ids.of(raw)
    entry = cj.Entry(gen, kind, ref.id, header_id, size)
    with store.catalog.transaction():
        store.catalog.journal.set_pending({
            "gen": gen, "kind": kind, "blob": ref.id.hex(), "header": header_id.hex(),
            "size": size, "log_max": upto, "parent": parent.hex() if parent else None,
        })  # fmt: skip
    faults.checkpoint("journal:after-body")
    href = store.put_stream(io.BytesIO(raw), Chunker(HEADER_CHUNKER), compressible=True,
                            kind=index_kind)  # fmt: skip
    store.flush()
    if href.id != header_id:
        raise StoreError("internal error: catalog journal header id changed while stored")
    faults.checkpoint("journal:after-header")
    with store.catalog.transaction():
        _commit(store, entry, upto)
    faults.checkpoint("journal:after-commit")


def _commit(store: Store, entry: cj.Entry, upto: int) -> None:
    store.catalog.journal.commit_entry(entry, upto)
    if entry.kind == "checkpoint":
        # the format-2 image (if any) is no longer what a rebuild starts from
        store.catalog.set_meta(MetaKey.CATALOG_IMAGE, None)


def finish_pending(store: Store) -> str | None:
    """Finish or drop an entry a crashed writer left half written (docs/format.md)."""
    p = store.catalog.journal.pending()
    if p is None:
        return None
    header = bytes.fromhex(str(p["header"]))
    rows = store.catalog.content.chunk_rows([header])
    with store.catalog.transaction():
        if header not in rows:
            store.catalog.journal.set_pending(None)
            return f"dropped unfinished catalog {p['kind']} {p['gen']}"
        store.catalog.content.insert_blob(header, rows[header].size, [header])
        entry = cj.Entry(int(str(p["gen"])), str(p["kind"]), bytes.fromhex(str(p["blob"])),
                         header, int(str(p["size"])))  # fmt: skip
        _commit(store, entry, int(str(p["log_max"])))
    return f"finished catalog {p['kind']} {p['gen']}"


def restart_chain(store: Store, above: int) -> int:
    """After a rebuild that stopped at the last good state: a checkpoint of that state with
    a generation above every one the store holds, so the chain continues from it."""
    _, parent = head_of(store)
    gen = _checkpoint(store, above + 1, parent)
    if not store.catalog_in_store:
        _ensure_copies(store, {})
    return gen


def problems(store: Store, present_packs: set[str]) -> list[str]:
    """One line for each journal entry since the newest checkpoint whose body or header the
    store cannot deliver (``check``): a rebuild from the packs would stop there."""
    out = []
    for e in store.catalog.journal.entries():
        for what, blob in (("body", e.blob), ("header", e.header)):
            rows = store.catalog.content.blob_chunk_rows([blob]).get(blob)
            why = None
            if rows is None:
                why = f"its {what} blob {blob.hex()[:16]} is not in the catalog"
            else:
                for cid, row in rows:
                    if row is None:
                        why = f"its {what} needs chunk {cid.hex()[:16]}, which is not indexed"
                    elif row.pack not in present_packs:
                        why = f"its {what} needs pack {row.pack}, which is missing"
                    if why:
                        break
            if why:
                out.append(
                    f"catalog {e.kind} {e.gen} is damaged: {why} (rebuild-catalog from the"
                    f" packs would stop at generation {e.gen})"
                )
                break
    return out


# -- catalog copies (stores whose catalog lives in the cache) ---------------------------


def delta_copy_name(gen: int) -> str:
    return f"{COPIES_PREFIX}{gen:010d}{DELTA_COPY_SUFFIX}"


def copy_gens(store_backend: object, names: list[str]) -> tuple[list[int], list[int]]:
    """(full copy generations, delta copy generations), each sorted."""
    full, deltas = [], []
    for n in names:
        tail = n[len(COPIES_PREFIX) :]
        if tail.endswith(DELTA_COPY_SUFFIX):
            tail = tail[: -len(DELTA_COPY_SUFFIX)]
            if len(tail) == 10 and tail.isdigit():
                deltas.append(int(tail))
        elif len(tail) == 10 and tail.isdigit():
            full.append(int(tail))
    return sorted(full), sorted(deltas)


def _ensure_copies(store: Store, fresh: dict[int, Path]) -> None:
    entries = store.catalog.journal.entries()
    if not entries:
        return
    names = [n for n, _ in store.backend.list(COPIES_PREFIX)]
    full, deltas = copy_gens(store.backend, names)
    newest_full = full[-1] if full else 0
    if newest_full < entries[0].gen:
        # the newest checkpoint has no full copy yet: one of the current state covers it
        store.ensure_lock()
        catalog_image._upload_copy(store, entries[-1].gen)
        return
    for e in entries:
        if e.kind != "delta" or e.gen <= newest_full or e.gen in deltas:
            continue
        store.ensure_lock()
        _upload_delta_copy(store, e, fresh.get(e.gen))


def _upload_delta_copy(store: Store, entry: cj.Entry, body: Path | None) -> None:
    """``catalog/<gen>.delta``: zstd of (u32 header length, header, body), sealed when the
    store is encrypted; the body is re-read from the packs when no local file is left."""
    header = b"".join(store.read_blob(entry.header))
    sealed = store.tmp_dir / f"catalog-delta-copy-{os.getpid()}.sealed"

    def plain() -> Iterator[bytes]:
        yield _LEN.pack(len(header)) + header
        if body is not None:
            with open(body, "rb") as f:
                while block := f.read(_BLOCK):
                    yield block
        else:
            yield from store.read_blob(entry.blob)

    try:
        zc = zstandard.ZstdCompressor(level=10, write_checksum=True)
        cobj = zc.compressobj(size=_LEN.size + len(header) + entry.size)

        def pieces() -> Iterator[bytes]:
            for block in plain():
                yield cobj.compress(block)
            yield cobj.flush()

        sealed.unlink(missing_ok=True)
        with open(create_private(sealed), "wb") as dst:
            it = pieces()
            for piece in store.cipher.seal_stream(it) if store.cipher else it:
                dst.write(piece)
            dst.flush()
            os.fsync(dst.fileno())
        store.backend.save(delta_copy_name(entry.gen), sealed)
    finally:
        sealed.unlink(missing_ok=True)


def _prune_copies(store: Store) -> None:
    names = [n for n, _ in store.backend.list(COPIES_PREFIX)]
    full, deltas = copy_gens(store.backend, names)
    if not full:
        return
    for g in full[: -catalog_image.KEEP_COPIES]:
        store.ensure_lock()
        store.backend.remove(catalog_image._copy_name(g))
    for g in deltas:
        if g <= full[-1]:
            store.ensure_lock()
            store.backend.remove(delta_copy_name(g))
