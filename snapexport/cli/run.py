"""``snapexport run`` and ``snapexport config check``."""

from __future__ import annotations

import json
import sys

import click

from snapexport.cli import config_of, config_option, handle_errors, main, store_option


@main.command("run")
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@handle_errors
def run_command(store_location: str, as_json: bool) -> None:
    """The night from the config file: snapshot, forget, prune when due, check a slice, copy.

    Exit code: the worst step's (1 error, 2 usage, 3 incomplete); a failing step does not
    stop the independent steps after it.
    """
    from snapexport.run.night import run_night

    ctx = click.get_current_context()
    source = ctx.get_parameter_source("store_location")
    explicit = source is not click.core.ParameterSource.DEFAULT
    result = run_night(config_of(), store_location if explicit else None)
    click.echo(json.dumps(result.as_json()) if as_json else result.summary_line())
    for warning in result.warnings:
        click.echo(f"snapexport: warning: {warning}", err=True)
    for step in result.steps:
        if step.outcome in ("failed", "incomplete"):
            click.echo(f"snapexport: {step.name}: {step.message}", err=True)
    sys.exit(result.exit_code)


@main.group("config")
def config_group() -> None:
    """The config file (snapexport.toml)."""


@config_group.command("check")
@config_option
@click.option("--store", "store_location", help="Find snapexport.toml beside this store.")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as one JSON object.")
@handle_errors
def config_check(store_location: str | None, as_json: bool) -> None:
    """Validate the config file and print the settings in force (never a secret)."""
    from snapexport.errors import UsageError

    config = config_of()
    if config.path is None:
        raise UsageError(
            "no config file: give --config PATH, set SNAPEXPORT_CONFIG, or put"
            " snapexport.toml beside the store"
        )
    settings = {"config": str(config.path), **config.effective()}
    if as_json:
        click.echo(json.dumps(settings))
        return
    click.echo(f"{config.path}: ok")
    for section, values in settings.items():
        if section == "config":
            continue
        for table in values if isinstance(values, list) else [values]:
            for key, value in table.items():
                click.echo(f"  {section}.{key} = {json.dumps(value)}")
