"""The chunk store: content-defined chunks, compressed into self-describing pack files.

``Store`` (``opened.py``) is the entry point: a ``BlobStore`` (``repository.py``, puts and
reads blobs) that was opened, locked, recovered and synced. The modules below each hold one
concept: ``layout`` (file and folder names), ``chunker``, ``compression``, ``ids``,
``packs`` (the pack format), ``backend`` (where pack files live), ``lock``, ``config``,
``recovery`` (after crashes), ``gc`` (freeing space), ``catalog_image`` (the catalog saved
into the store). docs/architecture.md shows how they stack.
"""

from snapexport.store.opened import Store
from snapexport.store.repository import BlobRef, BlobStore, StoreStats

__all__ = ["BlobRef", "BlobStore", "Store", "StoreStats"]
