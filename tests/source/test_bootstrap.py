"""Booting a site: clear one-line errors, profile detection (each in its own process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent

PROBE = """
import sys
from snapexport.errors import SourceError
from snapexport.source import connect_site
try:
    source = connect_site(sys.argv[1] or None, pythonpath=sys.argv[2:])
except SourceError as err:
    print("ERROR", err)
else:
    print("PROFILE", source.profile)
"""


def probe(settings: str, *pythonpath: str, env: dict[str, str] | None = None) -> str:
    import os

    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", PROBE, settings, *pythonpath],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_settings_not_importable() -> None:
    out = probe("no_such_site.settings")
    assert out.startswith("ERROR settings module 'no_such_site.settings' is not importable")
    assert "\n" not in out


def test_not_a_django_site() -> None:
    assert probe("json") == (
        "ERROR 'json' is not a Django site: it defines no INSTALLED_APPS or DATABASES"
    )


def test_no_settings_at_all() -> None:
    assert probe("").startswith("ERROR no Django settings")


def test_demo_is_paperless(tmp_path: Path) -> None:
    out = probe("snapexport.demo.settings", env={"SNAPEXPORT_DEMO_DIR": str(tmp_path)})
    assert out == "PROFILE paperless"


def test_plain_project_is_django(tmp_path: Path) -> None:
    out = probe("testproject.settings", str(TESTS), env={"TESTPROJECT_DIR": str(tmp_path)})
    assert out == "PROFILE django"


@pytest.mark.parametrize("length,algo", [(64, "sha256"), (32, "md5"), (40, None), (0, None)])
def test_checksum_algorithm_by_length(length: int, algo: str | None) -> None:
    from snapexport.source.django_site import checksum_algo

    assert checksum_algo("a" * length) == algo
