"""Garbage collection: drop blobs nobody needs, then delete or repack the packs they freed.

Order, so that a crash at any point leaves every live blob readable and ``check`` clean:

1. plan (read only): dead blobs, chunks no live blob uses, per-pack unused share;
2. write the live chunks of packs to repack into new packs (saved, not yet catalogued:
   a crash here leaves orphans whose chunks are all indexed elsewhere, which recovery
   deletes);
3. one transaction: delete dead blob rows, the rows of deleted and repacked packs and
   their chunks, insert the new packs' rows, and record the old pack names in the
   ``pending_pack_deletes`` meta key;
4. delete the old pack files, then clear the key (recovery finishes a crash in between).

Dead chunks in packs that are kept (unused share at most ``max_unused``) keep their rows:
their bytes are still there, a later run may reuse them, and the next collection counts
them again towards their pack's unused share.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass

from snapexport.catalog.content import ChunkRow
from snapexport.catalog.meta import MetaKey
from snapexport.store import packs
from snapexport.store.recovery import finish_pending_deletes
from snapexport.store.repository import BlobStore


@dataclass(frozen=True, slots=True)
class GcReport:
    """What a collection freed (or, with ``dry_run``, would free)."""

    blobs_deleted: int
    chunks_unused: int  # chunks no live blob uses (their rows go with their pack, if it goes)
    packs_deleted: int
    packs_repacked: int
    packs_written: int
    bytes_freed: int
    dry_run: bool

    def as_dict(self) -> dict[str, int | bool]:
        return dataclasses.asdict(self)


def collect_garbage(
    store: BlobStore,
    live: Iterable[bytes],
    *,
    max_unused: float,
    dry_run: bool,
    keep_image: bool = True,
) -> GcReport:
    """See the module docstring; ``store`` must be open for writing and flushed.

    ``live`` streams the ids of every blob still in use. ``keep_image=False`` (dry runs
    only) counts the newest catalog image as dead too: what a prune frees once it has saved
    the image that replaces it.
    """
    if not keep_image and not dry_run:
        raise ValueError("the newest catalog image is only ever collected after a newer one")
    garbage = store.catalog.garbage
    garbage.mark_live(live)
    # the newest checkpoint (or format-2 image) and its deltas stay; older ones go like
    # any unused blob. keep_image=False (a dry prune's forecast) lets those go too: the
    # prune's own checkpoint replaces them.
    if keep_image:
        garbage.also_live(store.catalog.images.live_blobs() + store.catalog.journal.live_blobs())
    images = set(store.catalog.images.blob_ids()) | set(store.catalog.journal.blob_ids())
    dead_blobs = garbage.dead_blobs()
    dead_chunks = garbage.mark_dead_chunks()
    plan = garbage.packs_with_dead_chunks()
    delete = [(p.id, p.size) for p in plan if p.live_chunks == 0]
    repack = [
        (p.id, p.size)
        for p in plan
        if p.live_chunks and (p.size - p.live_bytes) / p.size > max_unused
    ]
    old_bytes = sum(size for _, size in delete + repack)
    if dry_run:
        repacked = {pid for pid, _ in repack}
        live_bytes = sum(p.live_bytes for p in plan if p.id in repacked)
        return GcReport(
            len(set(dead_blobs) - images), dead_chunks, len(delete), len(repack), 0,
            old_bytes - live_bytes, True,
        )  # fmt: skip

    new_packs = _write_repacked(store, [pid for pid, _ in repack])
    old_ids = [pid for pid, _ in delete + repack]
    with store.catalog.transaction():
        garbage.delete_blobs(dead_blobs)
        store.catalog.content.forget_packs(old_ids)
        for finished in new_packs:
            rows = [
                ChunkRow(e.id, finished.id, e.offset, e.length, e.size, e.codec)
                for e in finished.entries
            ]
            store.catalog.content.insert_pack(finished.id, finished.size, rows)
        store.catalog.set_meta(
            MetaKey.PENDING_PACK_DELETES, json.dumps(old_ids) if old_ids else None
        )
        store.catalog.images.forget_collected()
        store.catalog.journal.forget_collected()
    finish_pending_deletes(store)
    new_bytes = sum(p.size for p in new_packs)
    return GcReport(
        len(set(dead_blobs) - images), dead_chunks, len(delete), len(repack), len(new_packs),
        old_bytes - new_bytes, False,
    )  # fmt: skip


def _write_repacked(store: BlobStore, pack_ids: list[str]) -> list[packs.FinishedPack]:
    """Copy the live chunks of ``pack_ids`` (verified, still compressed) into new packs."""
    finished: list[packs.FinishedPack] = []
    writer: packs.PackWriter | None = None
    try:
        for pid in pack_ids:
            for row in store.catalog.garbage.live_chunks_of_pack(pid):
                stored = store.load_stored(row)
                store.decode_verified(row, stored)  # never copy damage into a new pack
                if writer is None:
                    writer = packs.PackWriter(store.tmp_dir, store.cipher, store.pack_format())
                writer.add(row.id, row.codec, row.size, stored)
                if writer.size >= store.config.pack_size:
                    finished.append(_save(store, writer))
                    writer = None
        if writer is not None:
            finished.append(_save(store, writer))
            writer = None
    finally:
        if writer is not None:
            writer.abort()
    return finished


def _save(store: BlobStore, writer: packs.PackWriter) -> packs.FinishedPack:
    done = writer.finish()
    store.backend.save(packs.object_name(done.id), done.path)
    return done
