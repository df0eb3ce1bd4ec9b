"""The ``database`` parameter: SQLite, PostgreSQL and MariaDB, each test on a fresh database.

Servers come from ``SNAPEXPORT_TEST_POSTGRES`` / ``SNAPEXPORT_TEST_MYSQL`` (URLs of an
account that may create databases; ``.ci/run`` and ``tools/test-databases.sh`` set them).
When a URL is missing, the session tries to start that server itself with
``tools/test-databases.sh`` (loopback, a temp folder, stopped at the end). Only when that
fails too are the tests skipped, and the run ends with a loud line saying so; with
``CI=true`` a missing server fails the tests instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.databases.dbsite import Database

ROOT = Path(__file__).resolve().parents[2]
SERVERS = {"postgresql": "SNAPEXPORT_TEST_POSTGRES", "mysql": "SNAPEXPORT_TEST_MYSQL"}
VENDORS = ["sqlite", "postgresql", "mysql"]
_unavailable: dict[str, str] = {}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, str]]:
    """vendor -> admin URL of each server this session can use."""
    urls = {vendor: os.environ[var] for vendor, var in SERVERS.items() if os.environ.get(var)}
    folder: Path | None = None
    if len(urls) < len(SERVERS):
        folder = Path(tempfile.mkdtemp(prefix="snapexport-db-"))  # short: socket paths
        done = subprocess.run(
            ["bash", str(ROOT / "tools" / "test-databases.sh"), "start", str(folder)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=300,
        )
        started = {}
        env_file = folder / "env"
        if env_file.exists():
            for line in env_file.read_text().splitlines():
                name, _, value = line.removeprefix("export ").partition("=")
                started[name] = value
        for vendor, var in SERVERS.items():
            if vendor not in urls:
                if var in started:
                    urls[vendor] = started[var]
                else:
                    reason = done.stderr.strip().splitlines()
                    _unavailable[vendor] = (
                        f"{var} is not set and tools/test-databases.sh could not start one"
                        f" ({reason[-1] if reason else 'no output'})"
                    )
    try:
        yield urls
    finally:
        if folder is not None:
            subprocess.run(
                ["bash", str(ROOT / "tools" / "test-databases.sh"), "stop", str(folder)],
                capture_output=True,
                timeout=120,
            )
            shutil.rmtree(folder, ignore_errors=True)


def _admin(url: str) -> tuple[str, object]:
    parts = urlsplit(url)
    if parts.scheme.startswith("postgres"):
        import psycopg

        return "postgresql", psycopg.connect(url, autocommit=True)
    import pymysql

    conn = pymysql.connect(
        host=parts.hostname,
        port=parts.port or 3306,
        user=parts.username,
        password=parts.password or "",
        autocommit=True,
    )
    return "mysql", conn


@pytest.fixture(params=VENDORS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    vendor = request.param
    if vendor == "sqlite":
        yield Database(vendor, None, tmp_path)
        return
    urls = request.getfixturevalue("servers")
    if vendor not in urls:
        message = f"no {vendor} server: {_unavailable.get(vendor, 'unavailable')}"
        if _in_ci():
            pytest.fail(f"CI=true needs every database: {message}")
        pytest.skip(message)
    admin_url = urls[vendor]
    name = f"t_{uuid.uuid4().hex[:12]}"
    kind, conn = _admin(admin_url)
    with conn.cursor() as cursor:  # type: ignore[attr-defined]
        if kind == "postgresql":
            cursor.execute(f'CREATE DATABASE "{name}"')
        else:
            cursor.execute(
                f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            )
    parts = urlsplit(admin_url)
    url = parts._replace(path=f"/{name}").geturl()
    try:
        yield Database(vendor, url, tmp_path)
    finally:
        with conn.cursor() as cursor:  # type: ignore[attr-defined]
            if kind == "postgresql":
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _unavailable:
        for vendor, reason in sorted(_unavailable.items()):
            terminalreporter.write_sep(
                "!",
                f"DATABASE TESTS SKIPPED on {vendor}: {reason}",
                red=True,
                bold=True,
            )
