"""A big stream put with small chunks (the catalog image's way) holds a few MiB, not the stream."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import blake3

from snapexport.store import Store
from snapexport.store.catalog_image import IMAGE_CHUNKER
from snapexport.store.chunker import MIB, Chunker


def _catalog_like(path: Path, size: int) -> None:
    """Compressible, never repeating bytes: records of text around unique ids."""
    with open(path, "wb") as f:
        for i in range(size // 4096):
            uid = blake3.blake3(i.to_bytes(8, "little")).hexdigest()
            row = f'{{"model": "documents.document", "pk": {i}, "checksum": "{uid}"}}\n'
            f.write((row * 64)[:4096].encode())


def test_put_stream_memory_does_not_follow_the_stream(tmp_path: Path) -> None:
    big = tmp_path / "big.sqlite"
    _catalog_like(big, 96 * MIB)
    with Store.init(tmp_path / "store") as store:
        tracemalloc.start()
        try:
            with open(big, "rb") as f:
                ref = store.put_stream(f, Chunker(IMAGE_CHUNKER, block_size=MIB),
                                       compressible=True)  # fmt: skip
            store.flush()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert ref.size == big.stat().st_size
        assert peak < 16 * MIB, peak  # the bounded queue and a block or two, never 96 MiB
        h = blake3.blake3()
        for piece in store.read_blob(ref.id):
            h.update(piece)
        assert h.digest() == ref.id
        chunks = store.catalog.conn.execute(
            "SELECT chunks FROM blobs WHERE id = ?", (ref.id,)
        ).fetchone()[0]
        assert chunks > 192  # cut by the image chunker (about 256 KiB), not the store's 1 MiB
