"""Packs the catalog lists but the store no longer holds (deleted, lost on the remote).

A writer that deduplicated against such a pack would record references to bytes that are
gone. So a snapshot first lists the pack objects once (a folder scan locally, one LIST on
object storage) and forgets every missing pack: its rows, its chunks' rows and the rows of
every blob that needed one of its chunks, in one transaction. From then on those chunks are
absent like any new content: the snapshot reads the files again from the site and stores
them again (content-addressed, under the same blob ids, so older snapshots that hold the
same files are whole again). ``check`` and ``repair`` name what stays lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from snapexport.store import recovery

if TYPE_CHECKING:
    from snapexport.store.repository import BlobStore


@dataclass(frozen=True, slots=True)
class LostPacks:
    """Missing packs found (and forgotten) and the blobs they took with them."""

    packs: tuple[str, ...] = ()
    blobs: int = 0

    def __bool__(self) -> bool:
        return bool(self.packs)

    def as_json(self) -> dict[str, Any]:
        return {"packs": list(self.packs), "blobs": self.blobs}


def missing_packs(store: BlobStore) -> list[str]:
    """Ids of packs with catalog rows but no object in the store (one listing)."""
    present, _ = recovery.list_pack_objects(store)
    return sorted(pid for pid in store.catalog.content.pack_ids() if pid not in present)


def forget_missing_packs(store: BlobStore) -> LostPacks:
    """Find missing packs with one listing and drop them from the catalog (a writer only)."""
    missing = missing_packs(store)
    if not missing:
        return LostPacks()
    store.ensure_lock()
    with store.catalog.transaction():
        lost = store.catalog.content.drop_lost_packs(missing)
        store.catalog.images.forget_lost(set(lost))
    return LostPacks(tuple(missing), len(lost))
