"""Whole-store figures for ``snapexport stats``: counts, bytes and the ratios between them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from snapexport.store.opened import Store
from snapexport.store.repository import BlobStore


@dataclass(frozen=True, slots=True)
class ContentStats:
    """``logical`` = sum of blob sizes; ``unique`` = plain bytes of distinct chunks;
    ``stored`` = bytes of pack files. Ratios are ``x:1`` (higher is better)."""

    packs: int
    chunks: int
    blobs: int
    logical_bytes: int
    unique_bytes: int
    chunk_stored_bytes: int
    stored_bytes: int
    compression_ratio: float  # unique plain bytes / their stored bytes
    dedup_ratio: float  # logical bytes / unique plain bytes
    total_ratio: float  # logical bytes / pack bytes

    def as_dict(self) -> dict[str, int | float]:
        return dataclasses.asdict(self)

    def as_json(self) -> dict[str, int | float]:
        return self.as_dict()


def _ratio(a: int, b: int) -> float:
    return round(a / b, 3) if b else 1.0


def content_stats(store: BlobStore) -> ContentStats:
    index = store.catalog.content
    t = index.totals()
    # catalog images and journal entries are the store's own bookkeeping, not content
    own = store.catalog.images.blob_ids() + store.catalog.journal.blob_ids()
    images = index.existing_blobs(own)
    image_bytes = sum(index.blob_size(b) or 0 for b in images)
    t = dataclasses.replace(t, blobs=t.blobs - len(images), blob_bytes=t.blob_bytes - image_bytes)
    return ContentStats(
        packs=t.packs,
        chunks=t.chunks,
        blobs=t.blobs,
        logical_bytes=t.blob_bytes,
        unique_bytes=t.chunk_plain_bytes,
        chunk_stored_bytes=t.chunk_stored_bytes,
        stored_bytes=t.pack_bytes,
        compression_ratio=_ratio(t.chunk_plain_bytes, t.chunk_stored_bytes),
        dedup_ratio=_ratio(t.blob_bytes, t.chunk_plain_bytes),
        total_ratio=_ratio(t.blob_bytes, t.pack_bytes),
    )


def stats_of(store_location: str | Path) -> ContentStats:
    """``snapexport stats``: the figures of the store at ``store_location``."""
    with Store.open(store_location) as store:
        return content_stats(store)
