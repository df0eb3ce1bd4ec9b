"""The chunk store: content-defined chunks, compressed into self-describing pack files.

``Store`` is the entry point; the modules below it each hold one concept: ``chunker``,
``compression``, ``ids``, ``packs`` (the pack format), ``backend`` (where pack files live),
``lock``, ``config``, ``recovery`` (after crashes) and ``gc`` (freeing space).
"""

from snapexport.store.opened import Store
from snapexport.store.repository import BlobRef, BlobStore, StoreStats

__all__ = ["BlobRef", "BlobStore", "Store", "StoreStats"]
