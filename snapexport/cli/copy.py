"""``snapexport copy``."""

from __future__ import annotations

import json

import click

from snapexport.cli import handle_errors, main, store_option


@main.command("copy")
@store_option
@click.argument("snapshots", nargs=-1)
@click.option(
    "--to",
    "target",
    required=True,
    help="The target store (folder or s3://...), or the name of a [[copy]] target in the config.",
)
@click.option("--tag", help="Only snapshots with this tag.")
@click.option(
    "--to-password-file",
    type=click.Path(dir_okay=False),
    help="The target's password file (or SNAPEXPORT_TO_PASSWORD / SNAPEXPORT_TO_PASSWORD_FILE;"
    " default: the source's password).",
)
@click.option("--init", "init", is_flag=True, help="Create the target if it does not exist.")
@click.option("--encrypt", is_flag=True, help="With --init: create an encrypted target.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@handle_errors
def copy_command(
    store_location: str,
    snapshots: tuple[str, ...],
    target: str,
    tag: str | None,
    to_password_file: str | None,
    init: bool,
    encrypt: bool,
    as_json: bool,
) -> None:
    """Copy snapshots (default: all) into another store, sending only what it lacks."""
    from snapexport.cli import config_of
    from snapexport.configfile import target as configured_target
    from snapexport.copy import copy_snapshots, target_password
    from snapexport.progress import reporter_for

    to = configured_target(config_of(), target)
    given = target_password(to_password_file)
    result = copy_snapshots(
        store_location,
        to.location,
        snapshots,
        tag=tag,
        password=given if given is not None else to.password,
        init=init or to.init,
        encrypt=encrypt or to.encrypt,
        reporter=reporter_for(quiet=as_json),
    )
    click.echo(json.dumps(result.as_json()) if as_json else result.summary_line())
