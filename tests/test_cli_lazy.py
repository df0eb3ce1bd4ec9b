"""Start-up cost: a command imports its own module only, and opening a store never imports
sqlite-utils (which imports numpy whenever numpy is installed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from snapexport.cli import COMMAND_MODULES

NOT_COMMANDS = {"__init__", "render"}


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


def test_command_table_names_every_command_and_its_module() -> None:
    cli_folder = Path(__file__).resolve().parents[1] / "snapexport" / "cli"
    # render.py is the commands' shared text rendering, not a command module
    modules = sorted(p.stem for p in cli_folder.glob("*.py") if p.stem not in NOT_COMMANDS)
    out = _python(
        "import importlib, json\n"
        "from snapexport.cli import main\n"
        f"for m in {modules!r}: importlib.import_module('snapexport.cli.' + m)\n"
        "print(json.dumps({n: c.callback.__module__.rsplit('.', 1)[1]"
        " for n, c in main.commands.items()}))\n"
    )
    registered = json.loads(out)
    assert registered == COMMAND_MODULES
    assert sorted(set(COMMAND_MODULES.values())) == modules


def test_a_command_loads_only_its_module(tmp_path: Path) -> None:
    store = tmp_path / "store"
    out = _python(
        "import json, sys\n"
        "from snapexport.cli import main\n"
        f"main(['init', '--store', {str(store)!r}], standalone_mode=False)\n"
        f"main(['snapshots', '--store', {str(store)!r}], standalone_mode=False)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('snapexport.',"
        " 'sqlite_utils', 'numpy', 'django')))))\n"
    )
    loaded = set(json.loads(out.splitlines()[-1]))
    assert {"snapexport.cli.store", "snapexport.cli.snapshot", "snapexport.store"} <= loaded
    # Opening, writing and listing a store needs neither sqlite-utils nor the other commands.
    assert not {m for m in loaded if m.startswith(("sqlite_utils", "numpy", "django"))}
    others = {f"snapexport.cli.{m}" for m in ("prune", "materialize", "diff", "demo", "keys")}
    assert not loaded & others
    assert "snapexport.snapshot" not in loaded  # listing snapshots does not take one


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "snapexport", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    for name in COMMAND_MODULES:
        assert f"  {name} " in out


def test_catalog_db_is_a_sqlite_utils_view_on_first_use(tmp_path: Path) -> None:
    from snapexport.catalog.db import Catalog

    cat = Catalog.open(tmp_path / "c.sqlite", create=True)
    try:
        assert cat._db is None
        assert "snapshots" in cat.db.table_names()
        assert cat.db.conn is cat.conn
    finally:
        cat.close()
