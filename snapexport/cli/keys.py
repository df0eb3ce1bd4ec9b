"""Key commands for encrypted stores: ``key list|add|remove|passwd``."""

from __future__ import annotations

import click

from snapexport.cli import handle_errors, main, store_option
from snapexport.errors import StoreError


@main.group()
def key() -> None:
    """Manage the passwords (key objects) of an encrypted store."""


def _new_password(new_password_file: str | None) -> str:
    from snapexport.store import keys

    if new_password_file:
        with open(new_password_file) as f:
            return f.read().rstrip("\r\n")
    if keys.prompt is None:
        raise StoreError("give the new password with --new-password-file (no terminal to ask on)")
    first = keys.prompt("new password")
    if keys.prompt("repeat the new password") != first:
        raise StoreError("the passwords do not match")
    return first


_new_option = click.option(
    "--new-password-file", type=click.Path(dir_okay=False, exists=True),
    help="Read the new password from this file (else prompt on a terminal).",
)  # fmt: skip


@key.command("list")
@store_option
@handle_errors
def key_list(store_location: str) -> None:
    """List the key objects; * marks the one the password opens."""
    from snapexport.store import Store, keys

    with Store.open(store_location) as store:
        _require_encrypted(store)
        for k in keys.list_keys(store.backend):
            mark = "*" if k.id == store.key_id else " "
            click.echo(f"{mark} {k.id[:12]}  {k.created}  {k.user}@{k.host}  {k.kdf}")


@key.command("add")
@store_option
@_new_option
@handle_errors
def key_add(store_location: str, new_password_file: str | None) -> None:
    """Add a password that opens the store too."""
    from snapexport.store import Store, keys

    with Store.open(store_location, write=True) as store:
        _require_encrypted(store)
        assert store.master is not None
        key_id = keys.add_key(store.backend, store.master, _new_password(new_password_file))
    click.echo(f"added key {key_id[:12]}")


@key.command("remove")
@store_option
@click.argument("key_id")
@handle_errors
def key_remove(store_location: str, key_id: str) -> None:
    """Remove a key object (not the one the given password opens)."""
    from snapexport.store import Store, keys

    with Store.open(store_location, write=True) as store:
        _require_encrypted(store)
        assert store.key_id is not None
        gone = keys.remove_key(store.backend, key_id, current=store.key_id)
    click.echo(f"removed key {gone[:12]}")


@key.command("passwd")
@store_option
@_new_option
@handle_errors
def key_passwd(store_location: str, new_password_file: str | None) -> None:
    """Change the password: add a key for the new one, then remove the old key."""
    from snapexport.store import Store, keys

    with Store.open(store_location, write=True) as store:
        _require_encrypted(store)
        assert store.master is not None and store.key_id is not None
        new_id = keys.add_key(store.backend, store.master, _new_password(new_password_file))
        store.backend.remove(keys.KEYS_PREFIX + store.key_id)
    click.echo(f"password changed: key {new_id[:12]} replaces {store.key_id[:12]}")


def _require_encrypted(store: object) -> None:
    if getattr(store, "master", None) is None:
        raise StoreError("the store is not encrypted: it has no keys")
