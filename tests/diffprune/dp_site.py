"""Helpers for the diff, verify and prune tests: the demo site, the real CLI, exports.

The test process never sets up Django: site edits run in a subprocess with the demo
settings, and every snapshot is taken by the real CLI (``python -m snapexport``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

SETTINGS = "snapexport.demo.settings"
CRASH_ENV = "SNAPEXPORT_TEST_CRASH_AT"


def env_for(site: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", CRASH_ENV)}
    if site is not None:
        env["SNAPEXPORT_DEMO_DIR"] = str(site)
    env.update(extra)
    return env


def cli(
    *args: str | Path, site: Path | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """``python -m snapexport ARGS`` without a TTY, as cron would run it."""
    return subprocess.run(
        [sys.executable, "-m", "snapexport", *map(str, args)],
        capture_output=True,
        text=True,
        env=env_for(site, **extra),
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def ok(*args: str | Path, site: Path | None = None, **extra: str) -> str:
    done = cli(*args, site=site, **extra)
    assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def generate(command: str, folder: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "snapexport.demo.generate", command, str(folder), *args],
        capture_output=True,
        text=True,
        env=env_for(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def snapshot(store: Path, site: Path, *args: str) -> str:
    """Take a snapshot with the real CLI; returns its full id."""
    out = ok("snapshot", "--store", store, "--settings", SETTINGS, "--json", *args, site=site)
    return str(json.loads(out.strip().splitlines()[-1])["snapshot"])


EDIT_PRELUDE = """
import hashlib, json, os, uuid
from datetime import datetime, timezone
from pathlib import Path
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "snapexport.demo.settings"
django.setup()
from django.conf import settings
from snapexport.demo.site import models as m
ORIGINALS = Path(settings.ORIGINALS_DIR)
ARCHIVE = Path(settings.ARCHIVE_DIR)
THUMBS = Path(settings.THUMBNAIL_DIR)
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)
def sha(p): return hashlib.sha256(p.read_bytes()).hexdigest()
out = {}
"""


def edit_site(site: Path, code: str) -> dict[str, Any]:
    """Run ``code`` against the demo site's models in a subprocess; returns its ``out``."""
    script = EDIT_PRELUDE + textwrap.dedent(code) + "\nprint(json.dumps(out))\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env_for(site),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` by relative path, with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def pack_files(store: Path) -> dict[str, int]:
    """The store's pack files by name, with their sizes."""
    return {p.name: p.stat().st_size for p in (store / "packs").rglob("*") if p.is_file()}
