"""Helpers for end-to-end tests: a demo site on disk and the real CLI in subprocesses.

The test process never sets up the demo's Django itself for these tests (other tests in
the same process own that); every site operation runs in a subprocess, as users run it.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import click

SETTINGS = "snapexport.demo.settings"
#: outputs of the real paperless-ngx 3.0.5 exporter, kept in the project (see its README)
GOLDEN = Path(__file__).resolve().parent / "golden" / "paperless-3.0.5-d200"


def env_for(site: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.pop("SNAPEXPORT_FAULT", None)
    if site is not None:
        env["SNAPEXPORT_DEMO_DIR"] = str(site)
    env.update(extra)
    return env


def cli(
    *args: str | Path,
    site: Path | None = None,
    timeout: float = 300,
    umask: int = -1,
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m snapexport ARGS`` without a TTY, as cron would (``umask``: the
    process's umask, when not -1)."""
    return subprocess.run(
        [sys.executable, "-m", "snapexport", *map(str, args)],
        capture_output=True,
        text=True,
        env=env_for(site, **extra_env),
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        umask=umask,
    )


def ok(*args: str | Path, site: Path | None = None, **extra_env: str) -> str:
    """``cli`` that must succeed; its stdout."""
    done = cli(*args, site=site, **extra_env)
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def new_store(path: Path) -> Path:
    """An empty store made by ``init``."""
    ok("init", "--store", path)
    return path


def site_store_reference(base: Path, documents: int) -> Path:
    """BASE/site (a demo site), BASE/store with one snapshot of it, and BASE/reference: that
    snapshot materialized."""
    generate("create", base / "site", "--documents", str(documents))
    new_store(base / "store")
    ok("snapshot", "--store", base / "store", "--settings", SETTINGS, site=base / "site")
    ok("materialize", "--store", base / "store", "latest", base / "reference")
    return base


def copy_case(template: Path, dest: Path) -> Path:
    """A private copy of ``site_store_reference``'s three folders (mtimes kept)."""
    for name in ("site", "store", "reference"):
        shutil.copytree(template / name, dest / name, copy_function=shutil.copy2)
    return dest


def generate(command: str, folder: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "snapexport.demo.generate", command, str(folder), *args],
        capture_output=True,
        text=True,
        env=env_for(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def copy_site(template: Path, dest: Path) -> Path:
    """A private copy of a generated demo site (mtimes kept)."""
    shutil.copytree(template, dest, copy_function=shutil.copy2)
    return dest


def snapshot(
    store: Path, site: Path, *args: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    return cli("snapshot", "--store", store, "--settings", SETTINGS, *args, site=site, **extra_env)


def sql(site: Path, statement: str, params: tuple = ()) -> list[tuple]:
    """Run one SQL statement on the demo site's database (as another process would)."""
    conn = sqlite3.connect(site / "db.sqlite3", timeout=60)
    try:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def tree(folder: Path, prefix: str = "") -> dict[str, bytes]:
    """Every file below ``folder`` by relative path (after ``prefix``), with its bytes."""
    return {
        prefix + p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def cli_commands() -> dict[str, click.Command]:
    """Every runnable command by its full name ("init", "key add"), from the click group."""
    from snapexport.cli import COMMAND_MODULES, main

    for module in sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"snapexport.cli.{module}")
    found: dict[str, click.Command] = {}

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = cmd

    walk(main, [])
    return found
