"""The whole tool on SQLite, PostgreSQL and MariaDB: the demo, source order, snapshot,
materialize, diff, prune, check and lock timeouts, through the real CLI in subprocesses."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.databases.dbsite import Database
from tests.sitetools import SETTINGS, cli, env_for

pytestmark = pytest.mark.slow


def ok(*args: str | Path, site: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = cli(*args, site=site)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done


def make_site(database: Database, documents: int = 25, seed: int = 5) -> Path:
    site = database.folder / "site"
    done = subprocess.run(
        [
            *(sys.executable, "-m", "snapexport.demo.generate", "create", str(site)),
            *("--documents", str(documents), "--seed", str(seed), *database.site_args()),
        ],
        capture_output=True,
        text=True,
        env=env_for(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return site


def night(site: Path, seed: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "snapexport.demo.generate", "night", str(site), "--seed", str(seed)],
        capture_output=True,
        text=True,
        env=env_for(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def in_site(site: Path, code: str) -> Any:
    """Run ``code`` inside the demo site's Django (a subprocess); it sets ``out``."""
    script = (
        "import json, django\n"
        "django.setup()\n"
        "from django.db import connection, transaction\n"
        "out = None\n" + code + "\nprint(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env_for(site, DJANGO_SETTINGS_MODULE=SETTINGS),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def manifest_order(folder: Path) -> dict[str, list[Any]]:
    order: dict[str, list[Any]] = {}
    for record in json.loads((folder / "manifest.json").read_text(encoding="utf-8")):
        order.setdefault(record["model"], []).append(record["pk"])
    return order


def test_demo_then_materialize_diff_and_check(database: Database) -> None:
    """Must hold: demo twice, materialize latest OUT, diff latest OUT exits 0, check clean."""
    folder = database.folder / "demo"
    first = json.loads(
        ok("demo", folder, "--documents", "30", *database.site_args(), "--json").stdout
    )
    assert first["first snapshot"]["complete"] and first["after one night"]["complete"]
    assert first["first snapshot"]["documents"]["new"] >= 30
    again = json.loads(ok("demo", folder, "--json").stdout)
    assert list(again) == ["after one night"]
    site, store = folder / "site", folder / "store"
    if database.url is None:
        assert (site / "db.sqlite3").is_file()
    else:
        assert not (site / "db.sqlite3").exists()
        assert (site / "database.url").stat().st_mode & 0o777 == 0o600
    out = database.folder / "out"
    out.mkdir()
    ok("materialize", "--store", store, "latest", out)
    assert ok("diff", "--store", store, "latest", out).returncode == 0
    zipped = database.folder / "zipped"
    zipped.mkdir()
    ok("materialize", "--store", store, "--zip", "-p", "-sm", "latest", zipped)
    (archive,) = zipped.glob("*.zip")
    assert ok("diff", "--store", store, "latest", archive).returncode == 0
    ok("check", "--store", store, "--read-data")


def test_snapshot_night_diff_prune(database: Database) -> None:
    site = make_site(database)
    store = database.folder / "store"
    ok("init", "--store", store)
    snap = ("snapshot", "--store", store, "--settings", SETTINGS, "--json")
    first = json.loads(ok(*snap, site=site).stdout)
    night(site, 1)
    second = json.loads(ok(*snap, site=site).stdout)
    assert second["documents"]["unchanged"] > 0
    assert second["documents"]["new"] + second["documents"]["changed"] > 0
    assert second["bytes_stored"] < first["bytes_stored"]
    changes = json.loads(ok("diff", "--store", store, "latest~1", "latest", "--json").stdout)
    assert changes, "a night changes something"
    # Nothing changed since: the next snapshot stores no record and reads no file; and
    # every record the fast path kept equals a fresh serialization on this database.
    third = json.loads(ok(*snap, "--verify-records", site=site).stdout)
    assert third["records"]["new"] == third["records"]["changed"] == 0
    assert third["files_read"] == 0
    ok("prune", "--store", store, "--keep-last", "1")
    listed = json.loads(ok("snapshots", "--store", store, "--json").stdout)
    assert len(listed) == 1
    ok("check", "--store", store, "--read-data")
    out = database.folder / "out"
    out.mkdir()
    ok("materialize", "--store", store, "latest", out)
    assert ok("diff", "--store", store, "latest", out).returncode == 0


# Names whose order differs between byte order and a locale collation (en_US on
# PostgreSQL, utf8mb4_general_ci on MariaDB: case- and accent-insensitive).
TRICKY = ["Éclair GmbH", "Employer AG", "acme", "ACME Corp", "zeta", "Zürich Bank", "_under"]

PERTURB = """
from snapexport.demo.site import models as m
from django.contrib.auth.models import User
from django.utils import timezone
for name in NAMES:
    m.Correspondent.objects.create(name=name)
# An UPDATE moves a row on PostgreSQL: unordered sections change their physical order.
admin = User.objects.get(username="admin")
admin.last_login = timezone.now()
admin.save()
m.Tag.objects.filter(pk=1).update(color="#123456")
out = True
"""

EXPORTER_ORDER = """
from snapexport.source import connect_site
source = connect_site("snapexport.demo.settings")
out = {}
with source.open():
    for label in source.info().sections:
        # The exporter's read: model instances through .iterator(), in one transaction.
        out[label] = [obj.pk for obj in source.reader(label).queryset().iterator()]
"""


def test_manifest_lists_records_in_the_exporters_order(database: Database) -> None:
    site = make_site(database)
    in_site(site, f"NAMES = {TRICKY!r}\n{PERTURB}")
    store = database.folder / "store"
    ok("init", "--store", store)
    ok("snapshot", "--store", store, "--settings", SETTINGS, site=site)
    got = in_site(site, EXPORTER_ORDER)
    out = database.folder / "out"
    out.mkdir()
    ok("materialize", "--store", store, "latest", out)
    order = manifest_order(out)
    for label, pks in got.items():
        assert order.get(label, []) == pks, label
    names = [
        rec["fields"]["name"]
        for rec in json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        if rec["model"] == "documents.correspondent"
    ]
    by_bytes = sorted(names, key=lambda n: n.encode())
    if database.vendor == "sqlite":
        assert names == by_bytes
    else:
        assert names != by_bytes  # the collation decides, and we follow it
    assert ok("diff", "--store", store, "latest", out).returncode == 0


@contextmanager
def table_locked(database: Database, site: Path, table: str) -> Iterator[str]:
    """``table`` locked by another connection (as a migration locks it); yields what the
    error should name besides the table."""
    if database.url is None:
        conn = sqlite3.connect(site / "db.sqlite3", isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield "SQLite database"
        finally:
            conn.execute("ROLLBACK")
            conn.close()
    elif database.vendor == "postgresql":
        import psycopg

        with psycopg.connect(database.url) as pg:
            pg.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            try:
                yield f"held by pid {pg.info.backend_pid}"
            finally:
                pg.rollback()
    else:
        import pymysql

        parts = urlsplit(database.url)
        my = pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=parts.username,
            password=parts.password or "",
            database=parts.path.lstrip("/"),
        )
        with my.cursor() as cursor:
            cursor.execute(f"LOCK TABLES {table} WRITE")
        try:
            yield "stayed locked"
        finally:
            with my.cursor() as cursor:
                cursor.execute("UNLOCK TABLES")
            my.close()


def test_a_locked_table_ends_the_wait(database: Database) -> None:
    site = make_site(database, documents=5)
    store = database.folder / "store"
    ok("init", "--store", store)
    snap = ("snapshot", "--store", store, "--settings", SETTINGS, "--db-timeout", "1s")
    with table_locked(database, site, "documents_tag") as named:
        done = cli(*snap, site=site)
    assert done.returncode == 1, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and named in line, line
    assert "--db-timeout 1s" in line and "nothing was committed" in line
    if database.url is not None:
        assert "table documents_tag" in line
    if database.vendor == "postgresql":
        assert "LOCK TABLE documents_tag" in line
    assert json.loads(ok("snapshots", "--store", store, "--json").stdout) == []
    ok(*snap, site=site)  # released: the same command now succeeds


def test_settings_found_from_the_site_folder_without_flags(tmp_path: Path) -> None:
    """Run where ``paperless/settings.py`` lives (paperless's src/): no flags needed."""
    src = tmp_path / "src"
    (src / "paperless").mkdir(parents=True)
    (src / "paperless" / "__init__.py").write_text("")
    (src / "paperless" / "settings.py").write_text(
        "from snapexport.demo.settings import *  # noqa\n"
    )
    site = make_site(Database("sqlite", None, tmp_path), documents=3)
    store = tmp_path / "store"
    ok("init", "--store", store)
    for env_extra in ({}, {"DJANGO_SETTINGS_MODULE": "paperless.settings"}):
        env = {**env_for(site), **env_extra}
        run = subprocess.run(
            [str(Path(sys.executable).parent / "snapexport"), "snapshot", "--store", str(store)],
            capture_output=True,
            text=True,
            env=env,
            cwd=src,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
        assert run.returncode == 0, (env_extra, run.stderr)
    assert len(json.loads(ok("snapshots", "--store", store, "--json").stdout)) == 2


def test_manage_py_snapexport_through_paperless_apps(database: Database) -> None:
    """``manage.py snapexport …`` with ``PAPERLESS_APPS=snapexport``, as paperless users
    run it; here ``python -m django`` stands in for the site's manage.py."""
    site = make_site(database, documents=8)
    store = database.folder / "store"
    ok("init", "--store", store)

    def manage(*args: str | Path, apps: str = "snapexport") -> subprocess.CompletedProcess[str]:
        env = env_for(site, DJANGO_SETTINGS_MODULE=SETTINGS, PAPERLESS_APPS=apps)
        return subprocess.run(
            [sys.executable, "-m", "django", "snapexport", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )

    unknown = manage("snapshot", "--store", store, apps="")
    assert unknown.returncode != 0 and "Unknown command" in unknown.stderr
    done = manage("snapshot", "--store", store, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["complete"]
    out = database.folder / "out"
    out.mkdir()
    assert manage("materialize", "--store", store, "latest", out).returncode == 0
    assert manage("diff", "--store", store, "latest", out).returncode == 0
