"""Bad requests: the library raises RequestError (exit code 2); the CLI keeps its words and code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snapexport.errors import EXIT_USAGE, RequestError, SnapexportError
from snapexport.policy import parse_duration


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snapexport", *args],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_request_error_is_a_library_error_answering_2() -> None:
    assert issubclass(RequestError, SnapexportError) and RequestError.exit_code == EXIT_USAGE == 2
    with pytest.raises(RequestError, match=r"invalid duration '3x': use e\.g\. 30d"):
        parse_duration("3x")


def test_cli_keeps_messages_and_exit_codes(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    assert _cli("init", "--store", store).returncode == 0
    bad = _cli("forget", "--store", store, "--keep-within", "3x")
    assert bad.returncode == 2
    assert bad.stderr == (
        "snapexport: error: invalid duration '3x': use e.g. 30d, 2w, 6m, 1y, 12h\n"
    )
    both = _cli("forget", "--store", store, "0000", "--keep-last", "1")
    assert both.returncode == 2
    assert both.stderr == "snapexport: error: name snapshots or give a policy, not both\n"
    missing = _cli("materialize", "--store", store)
    assert missing.returncode == 2
    assert missing.stderr == (
        "snapexport: error: give a TARGET folder, optionally preceded by a SNAPSHOT\n"
    )
