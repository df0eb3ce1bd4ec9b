"""Chunking is content-defined, streaming, and independent of how the stream is read."""

from __future__ import annotations

import io

import blake3

from snapexport.store.chunker import Chunker, ChunkerParams

MIB = 1 << 20


def _random(size: int, seed: bytes = b"x") -> bytes:
    return blake3.blake3(seed).digest(length=size)


def _ids(chunks: list[bytes]) -> list[bytes]:
    return [blake3.blake3(c).digest() for c in chunks]


def test_one_byte_insertion_restores_at_most_three_chunks() -> None:
    chunker = Chunker(ChunkerParams())
    data = _random(20 * MIB)
    edited = data[:1000] + b"!" + data[1000:]
    before = set(_ids([bytes(c) for c in chunker.chunks(io.BytesIO(data))]))
    after = _ids([bytes(c) for c in chunker.chunks(io.BytesIO(edited))])
    new = [i for i in after if i not in before]
    assert len(new) <= 3
    assert 8 <= len(after) <= 40  # ~1 MiB average chunks


def test_stream_cuts_equal_whole_buffer_cuts() -> None:
    params = ChunkerParams(min_size=256, avg_size=1024, max_size=4096)
    data = _random(500_000, b"y")
    whole = [bytes(c) for c in Chunker(params).chunks_of(data)]
    for block in (1, 8192, 10_000, 65_536):  # block_size is raised to 2*max_size at least
        streamed = [bytes(c) for c in Chunker(params, block_size=block).chunks(io.BytesIO(data))]
        assert streamed == whole
    assert b"".join(whole) == data


def test_small_input_is_one_chunk_and_empty_is_none() -> None:
    chunker = Chunker(ChunkerParams())
    assert [bytes(c) for c in chunker.chunks(io.BytesIO(b"small"))] == [b"small"]
    assert list(chunker.chunks(io.BytesIO(b""))) == []


def test_chunk_sizes_respect_limits() -> None:
    params = ChunkerParams()
    sizes = [len(c) for c in Chunker(params).chunks(io.BytesIO(_random(30 * MIB, b"z")))]
    assert all(params.min_size <= s <= params.max_size for s in sizes[:-1])
