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
from snapexport.errors import EXIT_ERROR, SnapexportError, os_error_message

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = """\b
Exit codes:
  0  done
  1  error (nothing committed)
  2  usage error
  3  snapshot committed but incomplete (files missing)"""


# -- the config file ---------------------------------------------------------------------
# Every command created on ``main`` is a ``ConfiguredCommand``: before click parses its
# arguments it finds the config file (``--config``, ``$SNAPEXPORT_CONFIG``, or
# ``snapexport.toml`` beside the store), validates it and sets the context's
# ``default_map`` from it, so an option given on the command line (or through its
# environment variable) overrides the file and an absent one takes the file's value. The
# loaded ``Config`` stays in ``ctx.meta`` for commands that read whole sections
# (``copy --to NAME``, ``run``, ``config check``).

CONFIG_META = "snapexport.config"


def _peek(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def defaults_for(command: str, config: Any) -> dict[str, Any]:
    """The ``default_map`` of one command (by its name) from a loaded config."""
    out: dict[str, Any] = {}
    store = config.section("store")
    if "location" in store:
        out["store_location"] = config.resolve(store["location"])
    if "password_file" in store:
        out["password_file"] = config.resolve(store["password_file"])
    if command == "snapshot":
        site, snap = config.section("site"), config.section("snapshot")
        for key, param in (("settings", "settings"), ("profile", "profile"),
                           ("include", "include"), ("exclude", "exclude"),
                           ("natural_keys", "natural_keys"), ("extra_folders", "extra_folder"),
                           ("strict", "strict")):  # fmt: skip
            value = site.get(key, snap.get(key))
            if value is not None:
                out[param] = value
        if "pythonpath" in site:
            out["pythonpath"] = config.resolve(site["pythonpath"])
        if "tags" in snap:
            out["tags"] = snap["tags"]
    if command in ("forget", "prune"):
        out.update(config.section("retention"))
        if command == "prune" and "max_unused" in config.section("prune"):
            out["max_unused"] = config.section("prune")["max_unused"]
    return out


def apply_config(ctx: click.Context, args: list[str]) -> None:
    """Load the config this command line names (or finds) and make it ctx's defaults."""
    from snapexport import configfile
    from snapexport.errors import SnapexportError

    try:
        path = configfile.find(_peek(args, "--config"), _peek(args, "--store"))
        config = configfile.load(path)
        store = config.section("store")
        # The variable the file names carries the password (when it is set: a command that
        # needs it and lacks it says so when it opens the store).
        name = store.get("password_env")
        if name and name in os.environ and "SNAPEXPORT_PASSWORD" not in os.environ:
            os.environ["SNAPEXPORT_PASSWORD"] = os.environ[name]
    except SnapexportError as err:
        click.echo(f"snapexport: error: {err}", err=True)
        sys.exit(err.exit_code)
    ctx.meta[CONFIG_META] = config
    if config.path is not None:
        name = ctx.info_name or ""
        ctx.default_map = {**defaults_for(name, config), **(ctx.default_map or {})}


def config_of(ctx: click.Context | None = None) -> Any:
    """The config the running command loaded (an empty one when there is none)."""
    from snapexport.configfile import Config

    ctx = ctx or click.get_current_context()
    return ctx.meta.get(CONFIG_META) or Config(None)


class ConfiguredCommand(click.Command):
    """A command whose defaults come from the config file."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not any(a in ("-h", "--help") for a in args):
            apply_config(ctx, args)
        return super().parse_args(ctx, args)


def config_option(f: Any) -> Any:
    """``--config PATH`` (env SNAPEXPORT_CONFIG); read by ``apply`` before parsing."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        expose_value=False,
        help="The config file (env SNAPEXPORT_CONFIG; default: snapexport.toml beside the"
        " store). Flags override it.",
    )(f)


class _LazyGroup(click.Group):
    """A group that imports a command's module the first time the command is looked up.

    Its commands take their defaults from the config file (``ConfiguredCommand``).
    """

    command_class = ConfiguredCommand

    group_class = type  # nested groups (``key``, ``config``) are lazy and configured too

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
    from snapexport.heap import bound_heap, quiet_collector

    bound_heap()
    quiet_collector()


def _password_setup(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Route --password-file to the store's password lookup; prompt only on a terminal."""
    import os

    from snapexport.store import keys

    if value:
        os.environ[keys.PASSWORD_FILE_ENV] = value
    if sys.stdin.isatty():
        keys.prompt = lambda text: click.prompt(text, hide_input=True, err=True)


def _env_setup(name: str, value_of: Callable[[Any], str | None]) -> Any:
    def setup(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        text = value_of(value)
        if text:
            os.environ[name] = text

    return setup


def echo_notes() -> None:
    """What the user should know about how stores were opened (read-only, without a lock,
    checked without repairs): ``store.opened.OPEN_NOTES``, gathered while the command ran."""
    opened = sys.modules.get("snapexport.store.opened")
    if opened is None:
        return
    for note in opened.OPEN_NOTES:
        click.echo(f"snapexport: note: {note}", err=True)
    opened.OPEN_NOTES.clear()


def store_option(f: F) -> F:
    """The ``--store`` option every store command takes (env: SNAPEXPORT_STORE),
    ``--password-file`` for encrypted stores (env SNAPEXPORT_PASSWORD holds the password),
    ``--wait-lock`` (env SNAPEXPORT_WAIT_LOCK), ``--no-lock`` (env SNAPEXPORT_NO_LOCK) and
    ``--config`` (the config file, whose values are the defaults of the others)."""
    f = config_option(f)
    f = click.option(
        "--wait-lock",
        metavar="DURATION",
        expose_value=False,
        callback=_env_setup("SNAPEXPORT_WAIT_LOCK", lambda v: v),
        help="When another process holds the store, retry for this long (90s, 5m, 1h).",
    )(f)
    f = click.option(
        "--no-lock",
        is_flag=True,
        expose_value=False,
        callback=_env_setup("SNAPEXPORT_NO_LOCK", lambda v: "1" if v else None),
        help="Read without taking the store's lock (commands that only read).",
    )(f)
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
            return run(*args, **kwargs)
        finally:
            echo_notes()

    def run(*args: Any, **kwargs: Any) -> Any:
        import sqlite3

        try:
            result = f(*args, **kwargs)
            sys.stdout.flush()  # here, so that a reader gone away is handled like the rest
            return result
        except SnapexportError as err:
            fail(str(err), err.exit_code)
        except KeyboardInterrupt:
            click.echo("snapexport: interrupted; nothing was committed", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # The reader went away (``snapexport diff ... | head -1``): stop quietly, as
            # a C tool killed by SIGPIPE would; stdout goes nowhere so that the exit's
            # flush does not fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(141)  # 128 + SIGPIPE, what a shell reports for such a tool
        except OSError as err:
            fail(os_error_message(err), EXIT_ERROR)
        except sqlite3.DatabaseError as err:
            fail(_catalog_message(err, kwargs.get("store_location")), EXIT_ERROR)
        except Exception as err:
            # A bug or an error from the site's own stack (database, storage): still one
            # line for cron, the traceback only on request.
            if os.environ.get("SNAPEXPORT_DEBUG"):
                raise
            fail(
                f"{type(err).__name__}: {err} (set SNAPEXPORT_DEBUG=1 for a traceback)", EXIT_ERROR
            )

    return wrapper  # type: ignore[return-value]


def _catalog_message(err: Exception, store: str | None) -> str:
    """One line for an SQLite error met while a command ran, with the next step."""
    text = str(err)
    where = f" --store {store}" if store else ""
    if "full" in text:
        return (
            f"the disk holding the catalog of store {store} is full ({text}): free space on"
            " it, then run the command again; nothing was committed"
        )
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return (
            f"the store's catalog is damaged ({text}): rebuild it from the packs with"
            f" snapexport rebuild-catalog{where}"
        )
    return f"catalog error: {text} (set SNAPEXPORT_DEBUG=1 for a traceback)"


# Command modules register themselves on ``main`` when imported. ``main`` imports one only
# when its command is asked for (``--help`` imports them all), so a command pays for its own
# imports and no other's. tests/test_cli_lazy.py checks this table against the modules.
COMMAND_MODULES: dict[str, str] = {
    "init": "store",
    "rebuild-catalog": "store",
    "check": "store",
    "repair": "store",
    "stats": "store",
    "snapshot": "snapshot",
    "snapshots": "snapshot",
    "materialize": "materialize",
    "diff": "diff",
    "forget": "prune",
    "prune": "prune",
    "demo": "demo",
    "key": "keys",
    "copy": "copy",
    "run": "run",
    "config": "run",
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
