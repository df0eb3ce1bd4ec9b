"""Key objects (``keys/<id>``): the master key wrapped under a password-derived key.

A key object is JSON naming its KDF (scrypt, with salt and cost parameters) and holding an
AES-256-GCM envelope of the master key material. Its name is the BLAKE3 of its bytes, so a
changed key object is told apart from a wrong password. Several key objects (passwords) can
open one store; ``add``, ``remove`` and ``passwd`` work on these objects only, never on the
data, which stays encrypted under the same master key.
"""

from __future__ import annotations

import base64
import datetime as dt
import getpass
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import blake3

from snapexport.errors import CorruptionError, StoreError
from snapexport.store.backend import Backend
from snapexport.store.crypto import ALGORITHM, NEEDS_CRYPTO, Cipher, MasterKey
from snapexport.store.layout import KEYS_PREFIX

KEY_AAD = b"snapexport key v1"
PASSWORD_ENV = "SNAPEXPORT_PASSWORD"
PASSWORD_FILE_ENV = "SNAPEXPORT_PASSWORD_FILE"
SCRYPT_N_ENV = "SNAPEXPORT_SCRYPT_N"  # lower the cost (tests, tiny machines); stored per key
DEFAULT_N = 1 << 17  # 128 MiB of memory with r = 8, about 0.3 s on a laptop core
SCRYPT_R = 8
SCRYPT_P = 1

#: the CLI installs a terminal prompt here; library callers pass ``password=`` instead
prompt: Callable[[str], str] | None = None


class WrongPasswordError(StoreError):
    """No key object of the store opens with the given password."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """One key object, as ``key list`` shows it."""

    id: str
    created: str
    host: str
    user: str
    kdf: str


def resolve_password(confirm: bool = False) -> str:
    """The password from SNAPEXPORT_PASSWORD, SNAPEXPORT_PASSWORD_FILE, or a terminal prompt."""
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV]
    path = os.environ.get(PASSWORD_FILE_ENV)
    if path:
        try:
            return Path(path).read_text().rstrip("\r\n")
        except OSError as err:
            raise StoreError(f"cannot read password file {path}: {err.strerror}") from err
    if prompt is None:
        raise StoreError(
            "the store is encrypted: set SNAPEXPORT_PASSWORD or pass --password-file"
            " (no terminal to ask on)"
        )
    password = prompt("store password")
    if confirm and prompt("repeat the password") != password:
        raise StoreError("the passwords do not match")
    return password


def _scrypt_n() -> int:
    n = int(os.environ.get(SCRYPT_N_ENV, DEFAULT_N))
    if n < 1024 or n & (n - 1):
        raise StoreError(f"{SCRYPT_N_ENV} must be a power of two of at least 1024")
    return n


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> Cipher:
    try:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    except ImportError:
        raise StoreError(NEEDS_CRYPTO) from None
    kdf = Scrypt(salt=salt, length=32, n=n, r=r, p=p)
    return Cipher(kdf.derive(password.encode()))


def add_key(backend: Backend, master: MasterKey, password: str) -> str:
    """Write a new key object opening ``master`` with ``password``; returns its id."""
    if not password:
        raise StoreError("an empty password is not allowed")
    salt = os.urandom(16)
    n = _scrypt_n()
    wrapped = _derive(password, salt, n, SCRYPT_R, SCRYPT_P).seal(master.to_bytes(), KEY_AAD)
    doc = {
        "version": 1,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "user": getpass.getuser(),
        "kdf": {
            "algorithm": "scrypt",
            "n": n,
            "r": SCRYPT_R,
            "p": SCRYPT_P,
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": ALGORITHM,
        "data": base64.b64encode(wrapped).decode(),
    }
    raw = json.dumps(doc, indent=2).encode() + b"\n"
    key_id = blake3.blake3(raw).hexdigest()
    backend.save_bytes(KEYS_PREFIX + key_id, raw)
    return key_id


def _load(backend: Backend, key_id: str) -> dict[str, object]:
    raw = backend.load(KEYS_PREFIX + key_id)
    if blake3.blake3(raw).hexdigest() != key_id:
        raise CorruptionError(f"key object keys/{key_id} is damaged (does not match its name)")
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        return doc
    except ValueError as err:
        raise CorruptionError(f"key object keys/{key_id} is damaged: {err}") from err


def key_ids(backend: Backend) -> list[str]:
    return [name[len(KEYS_PREFIX) :] for name, _ in backend.list(KEYS_PREFIX)]


def _try(doc: dict[str, object], password: str) -> MasterKey | None:
    kdf = doc["kdf"]
    assert isinstance(kdf, dict)
    if kdf.get("algorithm") != "scrypt" or doc.get("cipher") != ALGORITHM:
        raise StoreError(f"key object uses an unknown KDF or cipher: {kdf.get('algorithm')}")
    cipher = _derive(
        password, base64.b64decode(str(kdf["salt"])), int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
    )
    try:
        plain = cipher.open(base64.b64decode(str(doc["data"])), KEY_AAD)
    except CorruptionError:
        return None
    return MasterKey.from_bytes(plain)


def unlock(backend: Backend, password: str) -> tuple[MasterKey, str]:
    """The master key and the id of the key object that ``password`` opens."""
    damaged: list[str] = []
    ids = key_ids(backend)
    if not ids:
        raise StoreError("the store is encrypted but has no key objects (keys/ is empty)")
    for key_id in ids:
        try:
            doc = _load(backend, key_id)
            master = _try(doc, password)
        except (CorruptionError, KeyError, TypeError, ValueError) as err:
            damaged.append(f"{key_id[:12]} ({str(err) or type(err).__name__})")
            continue
        if master is not None:
            return master, key_id
    if damaged:
        raise WrongPasswordError(
            "wrong password, or its key object is damaged: " + "; ".join(damaged)
        )
    raise WrongPasswordError("wrong password: no key of this store opens with it")


def list_keys(backend: Backend) -> list[KeyInfo]:
    out = []
    for key_id in key_ids(backend):
        doc = _load(backend, key_id)
        kdf = doc.get("kdf")
        name = f"scrypt n={kdf.get('n')}" if isinstance(kdf, dict) else "?"
        out.append(KeyInfo(key_id, str(doc.get("created")), str(doc.get("host")),
                           str(doc.get("user")), name))  # fmt: skip
    return sorted(out, key=lambda k: (k.created, k.id))


def remove_key(backend: Backend, key_id: str, *, current: str) -> str:
    """Delete one key object (given by id or unique prefix); never the one in use."""
    matches = [k for k in key_ids(backend) if k.startswith(key_id)]
    if not matches:
        raise StoreError(f"no key {key_id!r} in this store")
    if len(matches) > 1:
        raise StoreError(f"key prefix {key_id!r} is ambiguous")
    if matches[0] == current:
        raise StoreError("refusing to remove the key this password opens (use key passwd)")
    backend.remove(KEYS_PREFIX + matches[0])
    return matches[0]
