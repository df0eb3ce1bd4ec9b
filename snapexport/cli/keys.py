"""Key commands for encrypted stores: ``key list|add|remove|passwd``."""

from __future__ import annotations

import click

from snapexport.cli import handle_errors, main, render, store_option
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


_json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object for scripts.")
_new_option = click.option(
    "--new-password-file", type=click.Path(dir_okay=False, exists=True),
    help="Read the new password from this file (else prompt on a terminal).",
)  # fmt: skip


@key.command("list")
@store_option
@_json_option
@handle_errors
def key_list(store_location: str, as_json: bool) -> None:
    """List the key objects; * marks the one the password opens."""
    from snapexport.store.keyring import list_passwords

    listing = list_passwords(store_location)
    if as_json:
        click.echo(render.json_line(listing))
        return
    for line in render.key_lines(listing):
        click.echo(line)


@key.command("add")
@store_option
@_new_option
@_json_option
@handle_errors
def key_add(store_location: str, new_password_file: str | None, as_json: bool) -> None:
    """Add a password that opens the store too."""
    from snapexport.store.keyring import add_password

    done = add_password(store_location, lambda: _new_password(new_password_file))
    click.echo(render.json_line(done) if as_json else render.key_change_line(done))


@key.command("remove")
@store_option
@click.argument("key_id")
@_json_option
@handle_errors
def key_remove(store_location: str, key_id: str, as_json: bool) -> None:
    """Remove a key object (not the one the given password opens)."""
    from snapexport.store.keyring import remove_password

    done = remove_password(store_location, key_id)
    click.echo(render.json_line(done) if as_json else render.key_change_line(done))


@key.command("passwd")
@store_option
@_new_option
@_json_option
@handle_errors
def key_passwd(store_location: str, new_password_file: str | None, as_json: bool) -> None:
    """Change the password: add a key for the new one, then remove the old key."""
    from snapexport.store.keyring import change_password

    done = change_password(store_location, lambda: _new_password(new_password_file))
    click.echo(render.json_line(done) if as_json else render.key_change_line(done))
