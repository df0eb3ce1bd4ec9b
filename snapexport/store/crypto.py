"""Encryption at rest: AES-256-GCM envelopes and the store's master key material.

An envelope is ``nonce (12 random bytes) | ciphertext | tag (16 bytes)``: AES-256-GCM as
in NIST SP 800-38D, no associated data unless a caller names one. Every chunk payload, every
pack index and every catalog copy of an encrypted store is one envelope (docs/format.md).
Random 96-bit nonces are safe far beyond any backup's object count (2^32 envelopes per key).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from snapexport.errors import CorruptionError, StoreError
from snapexport.store.ids import BytesLike

ALGORITHM = "aes-256-gcm"
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = NONCE_SIZE + TAG_SIZE
KEY_SIZE = 32
NEEDS_CRYPTO = "encrypted stores need the cryptography package: pip install 'snapexport[crypto]'"


class Cipher:
    """Seals and opens envelopes with one 32-byte key; safe to share between threads."""

    __slots__ = ("_aead", "_invalid", "_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_SIZE:
            raise ValueError("an AES-256 key is 32 bytes")
        try:  # imported here: plain stores work without the crypto extra
            from cryptography.exceptions import InvalidTag
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:
            raise StoreError(NEEDS_CRYPTO) from None
        self._aead = AESGCM(key)
        self._invalid = InvalidTag
        self._key = key

    def seal(self, data: BytesLike, aad: bytes | None = None) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead.encrypt(nonce, data, aad)

    def seal_stream(self, blocks: Iterable[BytesLike]) -> Iterator[bytes]:
        """The envelope of the concatenated ``blocks``, piece by piece: the same format as
        ``seal`` for data too large to hold in memory."""
        from cryptography.hazmat.primitives.ciphers import Cipher as AesCipher
        from cryptography.hazmat.primitives.ciphers import algorithms, modes

        nonce = os.urandom(NONCE_SIZE)
        enc = AesCipher(algorithms.AES(self._key), modes.GCM(nonce)).encryptor()
        yield nonce
        for block in blocks:
            yield enc.update(block)
        yield enc.finalize() + enc.tag

    def open_stream(self, nonce: bytes, tag: bytes, blocks: Iterable[BytesLike]) -> Iterator[bytes]:
        """Plain bytes of an envelope given as nonce, tag and ciphertext blocks. The pieces are
        unauthenticated until the generator finishes: CorruptionError is raised at the end
        when the envelope was changed, so callers write to a temporary file first."""
        from cryptography.hazmat.primitives.ciphers import Cipher as AesCipher
        from cryptography.hazmat.primitives.ciphers import algorithms, modes

        if len(nonce) != NONCE_SIZE or len(tag) != TAG_SIZE:
            raise CorruptionError("encrypted data is too short")
        dec = AesCipher(algorithms.AES(self._key), modes.GCM(nonce, tag)).decryptor()
        for block in blocks:
            yield dec.update(block)
        try:
            yield dec.finalize()
        except self._invalid:
            raise CorruptionError("encrypted data fails authentication (damaged)") from None

    def open(self, envelope: BytesLike, aad: bytes | None = None) -> bytes:
        """The plain bytes of an envelope; CorruptionError when it was changed or truncated."""
        view = memoryview(envelope)
        if len(view) < OVERHEAD:
            raise CorruptionError("encrypted data is too short")
        try:
            return self._aead.decrypt(view[:NONCE_SIZE], view[NONCE_SIZE:], aad)
        except self._invalid:
            raise CorruptionError("encrypted data fails authentication (damaged)") from None


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The random secrets of an encrypted store: one AEAD key, one id (keyed BLAKE3) key."""

    encrypt: bytes
    ids: bytes

    @classmethod
    def new(cls) -> MasterKey:
        return cls(os.urandom(KEY_SIZE), os.urandom(KEY_SIZE))

    def cipher(self) -> Cipher:
        return Cipher(self.encrypt)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {"encrypt": _b64(self.encrypt), "ids": _b64(self.ids)}, sort_keys=True
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> MasterKey:
        data = json.loads(raw)
        key = cls(base64.b64decode(data["encrypt"]), base64.b64decode(data["ids"]))
        if len(key.encrypt) != KEY_SIZE or len(key.ids) != KEY_SIZE:
            raise ValueError("master key has the wrong length")
        return key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
