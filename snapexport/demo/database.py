"""The demo's database URLs (``sqlite:///path``, ``postgresql://…``, ``mysql://…``) as
Django settings.

Django-free: the demo settings use it before Django is set up. ``mysql://`` runs through
Django's own MySQL backend; when mysqlclient (``MySQLdb``) is not installed, PyMySQL (the
``snapexport[mysql]`` extra) stands in for it (``use_pymysql_if_needed``), so the SQL is
the SQL a paperless-ngx site on MariaDB runs. A real site brings its own driver.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from snapexport.errors import RequestError

ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgresql": "django.db.backends.postgresql",
    "postgres": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",
}


def vendor_of(url: str) -> str:
    """``sqlite``, ``postgresql`` or ``mysql``."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ENGINES:
        raise RequestError(
            f"database URL {redact(url)!r}: unknown scheme {scheme!r}"
            " (use sqlite:///PATH, postgresql://USER:PASS@HOST:PORT/NAME or mysql://…)"
        )
    return {"postgres": "postgresql", "mariadb": "mysql"}.get(scheme, scheme)


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def database_settings(url: str) -> dict[str, Any]:
    """Django's ``DATABASES["default"]`` for ``url``."""
    vendor = vendor_of(url)
    parts = urlsplit(url)
    if vendor == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path or path == "/":
            raise RequestError(f"database URL {url!r}: write sqlite:///ABSOLUTE/PATH")
        return {"ENGINE": ENGINES["sqlite"], "NAME": str(Path(path))}
    name = unquote(parts.path.lstrip("/"))
    if not name or "/" in name:
        raise RequestError(f"database URL {redact(url)!r} names no database (…/NAME)")
    settings: dict[str, Any] = {
        "ENGINE": ENGINES[vendor],
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }
    options = dict(parse_qsl(parts.query))
    if vendor == "mysql":
        # What paperless-ngx sets for MariaDB: utf8mb4 connections, READ COMMITTED.
        options.setdefault("charset", "utf8mb4")
        options.setdefault("isolation_level", "read committed")
    if options:
        settings["OPTIONS"] = options
    return settings


def use_pymysql_if_needed(databases: dict[str, Any]) -> None:
    """Let PyMySQL stand in for mysqlclient when a MySQL database is configured without it."""
    if not any(str(db.get("ENGINE", "")).endswith(".mysql") for db in databases.values()):
        return
    try:
        import MySQLdb  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        try:
            import pymysql  # type: ignore[import-untyped]
        except ImportError:
            return  # Django's own error then names the missing driver
        pymysql.install_as_MySQLdb()
