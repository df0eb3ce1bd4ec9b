"""``--passphrase``: the exporter's field encryption (Fernet over a PBKDF2-SHA256 key).

Key = urlsafe-base64(PBKDF2-SHA256(passphrase, salt, 1,000,000 iterations, 32 bytes)); each
sensitive value becomes ``Fernet.encrypt(value.encode()).hex()``; the salt (16 random bytes)
is written as hex into metadata.json's ``__crypto__`` block. ``cryptography`` is an optional
dependency (the ``crypto`` extra): only runs with a passphrase need it.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any

from snapexport.errors import RequestError
from snapexport.exportformat.labels import MAIL_ACCOUNT, SOCIAL_TOKEN
from snapexport.exportformat.manifest import dumps

CRYPT_FIELDS: dict[str, tuple[str, ...]] = {
    MAIL_ACCOUNT: ("password", "refresh_token"),
    SOCIAL_TOKEN: ("token", "token_secret"),
}
CRYPTO_KEY = "__crypto__"
KDF_ALGO = "pbkdf2_sha256"
KEY_ITERATIONS = 1_000_000
KEY_SIZE = 32
SALT_SIZE = 16
PLAINTEXT_NOTICE = "No passphrase was given, sensitive fields will be in plaintext"


class FieldCrypto:
    """Encrypts or decrypts the exporter's sensitive fields with one derived key."""

    def __init__(
        self,
        passphrase: str,
        *,
        salt_hex: str | None = None,
        iterations: int = KEY_ITERATIONS,
        key_size: int = KEY_SIZE,
        algo: str = KDF_ALGO,
    ) -> None:
        try:
            from cryptography.fernet import Fernet
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
        except ImportError as err:  # pragma: no cover - depends on the installation
            raise RequestError(
                "--passphrase needs the 'cryptography' package (pip install 'snapexport[crypto]')"
            ) from err
        if algo != KDF_ALGO:
            raise RequestError(f"{algo} is an unknown key derivation function")
        self.salt_hex = salt_hex or os.urandom(SALT_SIZE).hex()
        self.iterations = iterations
        self.key_size = key_size
        kdf = PBKDF2HMAC(
            algorithm=hashes.SHA256(),
            length=key_size,
            salt=bytes.fromhex(self.salt_hex),
            iterations=iterations,
        )
        key = base64.urlsafe_b64encode(kdf.derive(passphrase.encode("utf-8")))
        self._fernet = Fernet(key)

    @classmethod
    def from_metadata(cls, passphrase: str, metadata: dict[str, Any]) -> FieldCrypto:
        """The key an export was written with, from its metadata.json."""
        params = metadata[CRYPTO_KEY]
        return cls(
            passphrase,
            salt_hex=params["__salt_hex__"],
            iterations=params["__key_iters__"],
            key_size=params["__key_size__"],
            algo=params["__key_algo__"],
        )

    def params(self) -> dict[str, Any]:
        """The ``__crypto__`` block of metadata.json."""
        return {
            CRYPTO_KEY: {
                "__key_algo__": KDF_ALGO,
                "__key_iters__": self.iterations,
                "__key_size__": self.key_size,
                "__salt_hex__": self.salt_hex,
            }
        }

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).hex()

    def decrypt(self, value: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(bytes.fromhex(value)).decode("utf-8")
        except (InvalidToken, ValueError) as err:
            raise RequestError("the passphrase does not decrypt this export") from err

    def encrypt_text(self, model: str, text: str) -> str:
        """The record text with its sensitive fields encrypted (truthy values only)."""
        return _transform(model, text, self.encrypt)

    def decrypt_text(self, model: str, text: str) -> str:
        return _transform(model, text, self.decrypt)

    def decrypt_record(self, record: dict[str, Any]) -> bool:
        """Decrypts a parsed record's sensitive fields in place; True when any changed."""
        return _apply(record, self.decrypt)


def _transform(model: str, text: str, fn: Callable[[str], str]) -> str:
    if model not in CRYPT_FIELDS:
        return text
    record = json.loads(text)
    return dumps(record) if _apply(record, fn) else text


def _apply(record: dict[str, Any], fn: Callable[[str], str]) -> bool:
    """``fn`` over the record's sensitive fields that hold a truthy value."""
    names = CRYPT_FIELDS.get(str(record.get("model", "")))
    fields = record.get("fields")
    if not names or not isinstance(fields, dict):
        return False
    changed = False
    for name in names:
        if fields.get(name):
            fields[name] = fn(fields[name])
            changed = True
    return changed


def export_crypto(
    metadata: dict[str, Any], passphrase: str | None, where: object
) -> FieldCrypto | None:
    """The key to read an export with, from its metadata.json; None when it is not encrypted.

    Raises RequestError when it is encrypted and no passphrase is given (``where`` names the
    export in the message); a wrong passphrase shows when a value is decrypted.
    """
    if CRYPTO_KEY not in metadata:
        return None
    if not passphrase:
        raise RequestError(
            f"{where}: this export's sensitive fields are encrypted (metadata.json has"
            " __crypto__): give the passphrase it was made with (--passphrase)"
        )
    return FieldCrypto.from_metadata(passphrase, metadata)
