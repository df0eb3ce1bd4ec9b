"""``--json`` on every command: the click group is walked, and real runs print parseable JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from tests.sitetools import cli_commands


def test_every_command_has_json() -> None:
    commands = cli_commands()
    assert {"init", "check", "rebuild-catalog", "key list", "stats"} <= set(commands)
    lacking = [
        name
        for name, cmd in sorted(commands.items())
        if not any(isinstance(p, click.Option) and "--json" in p.opts for p in cmd.params)
    ]
    assert not lacking, f"commands without --json: {', '.join(lacking)}"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snapexport", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _json(*args: str, env: dict[str, str] | None = None, code: int = 0) -> object:
    done = _run(*args, "--json", env=env)
    assert done.returncode == code, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # one JSON document, nothing else on stdout
    return json.loads(lines[0])


def test_store_commands_print_json(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    created = _json("init", "--store", store)
    assert isinstance(created, dict) and created["encrypted"] is False
    report = _json("check", "--store", store, "--read-data")
    assert isinstance(report, dict) and report["ok"] is True and report["problems"] == []
    assert isinstance(_json("stats", "--store", store), dict)
    assert isinstance(_json("snapshots", "--store", store), list)
    (tmp_path / "store" / "catalog.sqlite").unlink()
    rebuilt = _json("rebuild-catalog", "--store", store)
    assert isinstance(rebuilt, dict) and rebuilt["packs"] == 0


def test_check_json_when_damaged(tmp_path: Path) -> None:
    store = tmp_path / "store"
    _json("init", "--store", str(store))
    (store / "packs" / "README").write_text("not a pack")
    done = _run("check", "--store", str(store), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    assert report["problems"] == ["unexpected file packs/README in the pack folder"]
    assert done.stderr.startswith("snapexport: error: check found 1 problem(s) in")
    text = _run("check", "--store", str(store))
    assert text.returncode == 1 and text.stdout == ""
    assert text.stderr.splitlines()[0] == "damaged: unexpected file packs/README in the pack folder"


def test_key_commands_print_json(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    env = {"SNAPEXPORT_PASSWORD": "first secret"}
    assert _json("init", "--store", store, "--encrypt", env=env)["encrypted"] is True  # type: ignore[index]
    new = tmp_path / "new-password"
    new.write_text("second secret\n")
    added = _json("key", "add", "--store", store, "--new-password-file", str(new), env=env)
    assert isinstance(added, dict) and added["added"]
    listing = _json("key", "list", "--store", store, env=env)
    assert isinstance(listing, list) and len(listing) == 2
    removed = _json("key", "remove", "--store", store, str(added["added"]), env=env)
    assert isinstance(removed, dict) and removed["removed"] == added["added"]
    changed = _json("key", "passwd", "--store", store, "--new-password-file", str(new), env=env)
    assert isinstance(changed, dict) and changed["added"] and changed["removed"]
