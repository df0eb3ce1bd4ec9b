"""Helpers for the diff, verify and prune tests, on top of tests/sitetools.py.

The test process never sets up Django: site edits run in a subprocess with the demo
settings, and every snapshot is taken by the real CLI (``python -m snapexport``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.sitetools import SETTINGS, cli, env_for, generate, ok, tree

__all__ = ["CRASH_ENV", "SETTINGS", "DiffStore", "cli", "copy_site", "edit_site", "env_for",
           "generate", "ok", "pack_files", "snapshot", "tree"]  # fmt: skip

# Fault points are armed through snapexport.faults: SNAPEXPORT_FAULT=prune:<point>=kill.
CRASH_ENV = "SNAPEXPORT_FAULT"


@dataclass(frozen=True)
class DiffStore:
    """The session's diff store (conftest's ``diff_store``): snapshots A, B and C."""

    store: Path
    site: Path
    a: str
    b: str
    c: str
    facts: dict[str, Any]


def copy_site(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, copy_function=shutil.copy2)
    return dest


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


def pack_files(store: Path) -> dict[str, int]:
    """The store's pack files by name, with their sizes."""
    return {p.name: p.stat().st_size for p in (store / "packs").rglob("*") if p.is_file()}
