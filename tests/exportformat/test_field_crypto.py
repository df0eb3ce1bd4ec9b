"""--passphrase: the exporter's field encryption, its metadata block, and reading it back."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from snapexport.errors import RequestError
from snapexport.exportformat.crypto import (
    CRYPT_FIELDS,
    CRYPTO_KEY,
    KEY_ITERATIONS,
    FieldCrypto,
    export_crypto,
)
from snapexport.exportformat.labels import MAIL_ACCOUNT
from snapexport.exportformat.manifest import dumps

pytest.importorskip("cryptography")
from cryptography.fernet import Fernet

from tests.sitetools import GOLDEN

FAST = 1000  # iterations for tests; the exporter's 1,000,000 are checked separately


def account(password: str, refresh_token: str = "") -> str:
    fields = {"name": "m", "password": password, "refresh_token": refresh_token}
    return dumps({"model": MAIL_ACCOUNT, "pk": 1, "fields": fields})


def test_key_is_the_exporters_pbkdf2_and_values_are_fernet_hex() -> None:
    crypto = FieldCrypto("pass phrase", iterations=FAST)
    salt = bytes.fromhex(crypto.salt_hex)
    assert len(salt) == 16
    key = hashlib.pbkdf2_hmac("sha256", b"pass phrase", salt, FAST, 32)
    token = bytes.fromhex(crypto.encrypt("s3cret é"))
    assert Fernet(base64.urlsafe_b64encode(key)).decrypt(token) == "s3cret é".encode()
    assert crypto.decrypt(token.hex()) == "s3cret é"


def test_text_round_trip_touches_only_the_sensitive_truthy_fields() -> None:
    crypto = FieldCrypto("pw", iterations=FAST)
    text = account("secret")
    encrypted = crypto.encrypt_text(MAIL_ACCOUNT, text)
    fields = json.loads(encrypted)["fields"]
    assert fields["password"] != "secret" and fields["refresh_token"] == ""
    assert fields["name"] == "m"
    assert crypto.decrypt_text(MAIL_ACCOUNT, encrypted) == text
    assert crypto.encrypt_text("documents.tag", text) == text  # not a sensitive model
    assert crypto.encrypt_text(MAIL_ACCOUNT, account("")) == account("")  # nothing to hide
    assert set(CRYPT_FIELDS[MAIL_ACCOUNT]) == {"password", "refresh_token"}


def test_metadata_block_gives_the_same_key_back() -> None:
    crypto = FieldCrypto("pw", iterations=FAST)
    metadata = {"version": "3.0.5", **crypto.params()}
    assert metadata[CRYPTO_KEY]["__key_algo__"] == "pbkdf2_sha256"
    assert metadata[CRYPTO_KEY]["__key_size__"] == 32
    again = export_crypto(metadata, "pw", "x")
    assert again is not None
    assert again.decrypt(crypto.encrypt("v")) == "v"


def test_reading_an_encrypted_export_needs_the_right_passphrase() -> None:
    crypto = FieldCrypto("pw", iterations=FAST)
    metadata = {"version": "3.0.5", **crypto.params()}
    assert export_crypto({"version": "3.0.5"}, None, "x") is None
    with pytest.raises(RequestError, match=r"^/some/export: .*encrypted.*passphrase"):
        export_crypto(metadata, None, "/some/export")
    wrong = export_crypto(metadata, "not it", "x")
    assert wrong is not None
    with pytest.raises(RequestError, match="does not decrypt"):
        wrong.decrypt(crypto.encrypt("v"))
    with pytest.raises(RequestError, match="unknown key derivation"):
        FieldCrypto("pw", algo="scrypt")


def test_the_real_exporters_metadata_block() -> None:
    metadata = json.loads((GOLDEN / "passphrase" / "metadata.json").read_text())
    params = metadata[CRYPTO_KEY]
    assert params["__key_iters__"] == KEY_ITERATIONS
    ours = FieldCrypto("pw", salt_hex=params["__salt_hex__"], iterations=FAST).params()
    assert ours[CRYPTO_KEY].keys() == params.keys()
    assert len(bytes.fromhex(params["__salt_hex__"])) == 16


def test_decrypt_record_in_place() -> None:
    crypto = FieldCrypto("pw", iterations=FAST)
    record = json.loads(crypto.encrypt_text(MAIL_ACCOUNT, account("secret", "tok")))
    assert crypto.decrypt_record(record)
    assert record == json.loads(account("secret", "tok"))
    tag = {"model": "documents.tag", "pk": 1, "fields": {"password": "x"}}
    assert not crypto.decrypt_record(tag) and tag["fields"]["password"] == "x"
