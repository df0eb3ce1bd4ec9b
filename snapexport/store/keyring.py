"""The ``key`` verbs: the passwords (key objects) that open an encrypted store.

Each opens the store with the current password, checks that it is encrypted, and adds,
removes or lists key objects (``keys.py`` holds their format). A new password comes from
the caller's ``new_password()``, asked only once the current one has opened the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapexport.errors import StoreError
from snapexport.store import keys
from snapexport.store.keys import KeyInfo
from snapexport.store.opened import Store

NewPassword = Callable[[], str]


def _require_encrypted(store: Store) -> None:
    if store.master is None:
        raise StoreError("the store is not encrypted: it has no keys")


@dataclass(frozen=True, slots=True)
class KeyList:
    """The key objects, and the one the given password opened."""

    keys: tuple[KeyInfo, ...]
    current: str | None

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {"id": k.id, "created": k.created, "user": k.user, "host": k.host, "kdf": k.kdf,
             "current": k.id == self.current}
            for k in self.keys
        ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class KeyChange:
    """What a key verb did: the key added and/or the key removed."""

    added: str | None = None
    removed: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed}


def list_passwords(store_location: str | Path) -> KeyList:
    """``key list``."""
    with Store.open(store_location) as store:
        _require_encrypted(store)
        return KeyList(tuple(keys.list_keys(store.backend)), store.key_id)


def add_password(store_location: str | Path, new_password: NewPassword) -> KeyChange:
    """``key add``: a key object for one more password."""
    with Store.open(store_location, write=True) as store:
        _require_encrypted(store)
        assert store.master is not None
        return KeyChange(added=keys.add_key(store.backend, store.master, new_password()))


def remove_password(store_location: str | Path, key_id: str) -> KeyChange:
    """``key remove``: remove a key object (never the one the given password opens)."""
    with Store.open(store_location, write=True) as store:
        _require_encrypted(store)
        assert store.key_id is not None
        return KeyChange(removed=keys.remove_key(store.backend, key_id, current=store.key_id))


def change_password(store_location: str | Path, new_password: NewPassword) -> KeyChange:
    """``key passwd``: add a key for the new password, then remove the one in use."""
    with Store.open(store_location, write=True) as store:
        _require_encrypted(store)
        assert store.master is not None and store.key_id is not None
        new_id = keys.add_key(store.backend, store.master, new_password())
        store.backend.remove(keys.KEYS_PREFIX + store.key_id)
        return KeyChange(added=new_id, removed=store.key_id)
