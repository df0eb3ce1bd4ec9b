"""Codecs: compress what shrinks, keep the rest raw, always decode back exactly."""

from __future__ import annotations

import blake3
import pytest

from snapexport.errors import CorruptionError
from snapexport.store.compression import CODEC_RAW, CODEC_ZSTD, Codecs


def test_random_bytes_stay_raw_without_a_full_attempt() -> None:
    data = blake3.blake3(b"r").digest(length=1 << 20)
    codecs = Codecs(3)
    assert not codecs.looks_compressible(data)
    assert codecs.encode(data) == (CODEC_RAW, data)


def test_text_is_compressed_and_decodes() -> None:
    data = b"Invoice 2024-01 total 12.50 EUR\n" * 20000
    codecs = Codecs(3)
    codec, stored = codecs.encode(data)
    assert codec == CODEC_ZSTD and len(stored) < len(data) // 10
    assert codecs.decode(codec, stored, len(data)) == data


def test_caller_hint_overrides_the_trial() -> None:
    codecs = Codecs(3)
    text = b"abc" * 10000
    assert codecs.encode(text, compressible=False)[0] == CODEC_RAW
    assert codecs.encode(text, compressible=True)[0] == CODEC_ZSTD


def test_garbage_payload_raises_corruption() -> None:
    with pytest.raises(CorruptionError):
        Codecs(3).decode(CODEC_ZSTD, b"garbage", 10)
    with pytest.raises(CorruptionError):
        Codecs(3).decode(9, b"x", 1)
