"""The command line: a thin click skin over the library.

Each area registers its commands from its own module (``cli/store.py``, ``cli/snapshot.py``,
...). Commands parse options, call the library, and render; they hold no logic. Every
``SnapexportError`` becomes one line on stderr and its exit code (see ``errors.py``).
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from snapexport import __version__
from snapexport.errors import EXIT_ERROR, SnapexportError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = """\b
Exit codes:
  0  done
  1  error (nothing committed)
  2  usage error
  3  snapshot committed but incomplete (files missing)"""


class _LazyGroup(click.Group):
    """A group that imports a command's module the first time the command is looked up."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            load_command_modules([cmd_name])
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_command_modules()
        return super().list_commands(ctx)


@click.group(
    cls=_LazyGroup,
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="snapexport")
def main() -> None:
    """Incremental, deduplicated backups of paperless-ngx and Django sites."""
    from snapexport.heap import bound_heap

    bound_heap()


def _password_setup(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Route --password-file to the store's password lookup; prompt only on a terminal."""
    import os

    from snapexport.store import keys

    if value:
        os.environ[keys.PASSWORD_FILE_ENV] = value
    if sys.stdin.isatty():
        keys.prompt = lambda text: click.prompt(text, hide_input=True, err=True)


def store_option(f: F) -> F:
    """The ``--store`` option every store command takes (env: SNAPEXPORT_STORE), and
    ``--password-file`` for encrypted stores (env SNAPEXPORT_PASSWORD holds the password)."""
    f = click.option(
        "--password-file",
        type=click.Path(dir_okay=False),
        expose_value=False,
        callback=_password_setup,
        help="Read an encrypted store's password from this file (or set SNAPEXPORT_PASSWORD).",
    )(f)
    return click.option(
        "--store",
        "store_location",
        envvar="SNAPEXPORT_STORE",
        default="snapexport.store",
        show_default=True,
        help="Store location: a folder or s3://bucket/prefix (env SNAPEXPORT_STORE).",
    )(f)


def handle_errors(f: F | None = None, *, failure_code: int | None = None) -> Any:
    """Turn library errors and Ctrl-C into one stderr line and the documented exit code.

    ``failure_code`` replaces every error's own code (``diff`` answers 2 for any error,
    since its 1 means "different").
    """
    if f is None:
        return functools.partial(handle_errors, failure_code=failure_code)

    def fail(message: str, code: int) -> None:
        click.echo(f"snapexport: error: {message}", err=True)
        sys.exit(failure_code if failure_code is not None else code)

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except SnapexportError as err:
            fail(str(err), err.exit_code)
        except KeyboardInterrupt:
            click.echo("snapexport: interrupted; nothing was committed", err=True)
            sys.exit(130)
        except OSError as err:
            fail(str(err), EXIT_ERROR)
        except Exception as err:
            # A bug or an error from the site's own stack (database, storage): still one
            # line for cron, the traceback only on request.
            if os.environ.get("SNAPEXPORT_DEBUG"):
                raise
            fail(
                f"{type(err).__name__}: {err} (set SNAPEXPORT_DEBUG=1 for a traceback)", EXIT_ERROR
            )

    return wrapper  # type: ignore[return-value]


# Command modules register themselves on ``main`` when imported. ``main`` imports one only
# when its command is asked for (``--help`` imports them all), so a command pays for its own
# imports and no other's. tests/test_cli_lazy.py checks this table against the modules.
COMMAND_MODULES: dict[str, str] = {
    "init": "store",
    "rebuild-catalog": "store",
    "check": "store",
    "stats": "store",
    "snapshot": "snapshot",
    "snapshots": "snapshot",
    "materialize": "materialize",
    "diff": "diff",
    "forget": "prune",
    "prune": "prune",
    "demo": "demo",
    "key": "keys",
    "ls": "documents",
    "find": "documents",
    "history": "documents",
    "restore": "documents",
    "dump": "documents",
}


def load_command_modules(names: Iterable[str] | None = None) -> None:
    """Import the modules that register these commands (default: every command)."""
    wanted = COMMAND_MODULES if names is None else names
    for module in dict.fromkeys(COMMAND_MODULES[n] for n in wanted if n in COMMAND_MODULES):
        importlib.import_module(f"snapexport.cli.{module}")
