"""Content-defined chunking: FastCDC-2020 (pyfastcdc) over large read blocks, without copies.

The chunker reads the stream in big blocks and cuts each block with pyfastcdc's buffer
chunker. A chunk is only emitted when at least ``max_size`` bytes follow its start (or the
stream has ended), because FastCDC looks at most ``max_size`` bytes ahead: every cut is
therefore exactly the cut a single pass over the whole stream would make. The unfinished tail
is carried into the next block (a copy of less than ``max_size`` bytes plus the block). Chunks
are memoryviews into immutable blocks, so they stay valid while referenced.
Measured against the alternatives in docs/chunking.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from pyfastcdc import FastCDC

MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class ChunkerParams:
    """Chunk size limits; part of a store's config (changing them stops dedup across runs)."""

    min_size: int = 256 * 1024
    avg_size: int = 1 * MIB
    max_size: int = 8 * MIB
    algorithm: str = "fastcdc2020"
    normalization: int = 1
    seed: int = 0


class Chunker:
    """Splits streams into content-defined chunks according to ``ChunkerParams``."""

    def __init__(self, params: ChunkerParams, *, block_size: int = 16 * MIB) -> None:
        if params.algorithm != "fastcdc2020":
            raise ValueError(f"unknown chunker algorithm {params.algorithm!r}")
        self.params = params
        self._cdc = FastCDC(
            params.avg_size,
            min_size=params.min_size,
            max_size=params.max_size,
            normalized_chunking=params.normalization,  # type: ignore[arg-type]
            seed=params.seed,
        )
        self._block_size = max(block_size, 2 * params.max_size)

    def chunks(self, f: BinaryIO) -> Iterator[memoryview]:
        """Yield the chunks of ``f`` in order; an empty stream yields nothing."""
        max_size = self.params.max_size
        tail: memoryview | None = None
        eof = False
        while not eof:
            # read() returns an immutable bytes object sized to what was read (no zeroed
            # 16 MiB buffer per small file), so chunk views into it stay valid.
            block = f.read(self._block_size)
            if not block:
                eof = True
                if tail is None:
                    return
                buf = tail
            elif tail is not None:
                buf = memoryview(b"".join((tail, block)))
            else:
                buf = memoryview(block)
            tail = None
            size = len(buf)
            for chunk in self._cdc.cut_buf(buf):
                if not eof and chunk.offset + max_size > size:
                    tail = buf[chunk.offset :]
                    break
                yield chunk.data

    def chunks_of(self, data: bytes | memoryview) -> Iterator[memoryview]:
        """Yield the chunks of an in-memory buffer."""
        for chunk in self._cdc.cut_buf(data):
            yield chunk.data
