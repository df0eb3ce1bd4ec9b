"""Per-chunk codecs: zstd where it pays, raw where it does not.

Most paperless bytes (PDF streams, webp thumbnails, JPEG scans) are already compressed. A
full zstd pass over them costs more CPU than hashing and buys nothing, so unless the caller
says ``compressible=True`` a small sample from the middle of the chunk is trial-compressed
at level 1 first; a sample that does not shrink sends the chunk raw. A chunk whose full
compression saves less than 2 % is also stored raw (decoding raw is free).
"""

from __future__ import annotations

import threading

import zstandard

from snapexport.errors import CorruptionError
from snapexport.store.ids import BytesLike

CODEC_RAW = 0
CODEC_ZSTD = 1
CODEC_NAMES = {CODEC_RAW: "raw", CODEC_ZSTD: "zstd"}

SAMPLE_SIZE = 64 * 1024
SAMPLE_MAX_RATIO = 0.95  # sample must compress at least to this share to try the chunk
KEEP_MAX_RATIO = 0.98  # compressed chunk kept only when at most this share of plain


# Known compressed formats (paperless' originals, archives and thumbnails): not worth a trial.
_INCOMPRESSIBLE = (".pdf", ".webp", ".png", ".jpg", ".jpeg", ".gif", ".zip", ".gz", ".zst")


def compressible_by_name(path: str) -> bool | None:
    """The ``compressible`` hint for a file: False for known compressed formats, else None
    (let the sample trial decide)."""
    return False if path.lower().endswith(_INCOMPRESSIBLE) else None


class Codecs:
    """Encodes and decodes chunk payloads; safe to use from several threads at once."""

    def __init__(self, level: int = 3) -> None:
        if not 1 <= level <= 22:
            raise ValueError("zstd level must be within 1..22")
        self.level = level
        self._local = threading.local()

    def _compressor(self, level: int) -> zstandard.ZstdCompressor:
        cache: dict[int, zstandard.ZstdCompressor] | None = getattr(self._local, "c", None)
        if cache is None:
            cache = self._local.c = {}
        comp = cache.get(level)
        if comp is None:
            comp = cache[level] = zstandard.ZstdCompressor(level=level, write_checksum=False)
        return comp

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        d: zstandard.ZstdDecompressor | None = getattr(self._local, "d", None)
        if d is None:
            d = self._local.d = zstandard.ZstdDecompressor()
        return d

    def looks_compressible(self, data: BytesLike) -> bool:
        """Whether a level-1 trial on a sample from the middle of ``data`` shrinks it."""
        if len(data) <= SAMPLE_SIZE:
            sample = data
        else:
            start = (len(data) - SAMPLE_SIZE) // 2
            sample = memoryview(data)[start : start + SAMPLE_SIZE]
        packed = self._compressor(1).compress(sample)
        return len(packed) <= len(sample) * SAMPLE_MAX_RATIO

    def encode(self, data: BytesLike, compressible: bool | None = None) -> tuple[int, BytesLike]:
        """Return ``(codec, stored bytes)`` for one chunk of plain bytes."""
        if compressible is False or not data:
            return CODEC_RAW, data
        if compressible is None and not self.looks_compressible(data):
            return CODEC_RAW, data
        packed = self._compressor(self.level).compress(data)
        if len(packed) > len(data) * KEEP_MAX_RATIO:
            return CODEC_RAW, data
        return CODEC_ZSTD, packed

    def decode(self, codec: int, stored: BytesLike, size: int) -> bytes:
        """Return the plain bytes of one stored chunk; raises CorruptionError on bad input."""
        if codec == CODEC_RAW:
            return bytes(stored)
        if codec == CODEC_ZSTD:
            try:
                plain = self._decompressor().decompress(stored, max_output_size=size)
            except zstandard.ZstdError as err:
                raise CorruptionError(f"zstd payload does not decode: {err}") from err
            return plain
        raise CorruptionError(f"unknown codec {codec}")
