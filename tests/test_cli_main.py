"""The CLI entry point itself: help and version, through a real subprocess."""

import subprocess
import sys

from snapexport import __version__


def test_version_runs_as_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "snapexport", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert __version__ in out.stdout


def test_help_lists_exit_codes() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "snapexport", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert "Exit codes" in out.stdout
