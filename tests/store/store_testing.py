"""Helpers for the store tests: tiny parameters, running the CLI and helper scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from snapexport.store.chunker import ChunkerParams

TINY_CHUNKS = ChunkerParams(min_size=256, avg_size=1024, max_size=4096)
TINY_PACK = 16 * 1024
HELPERS = Path(__file__).with_name("helpers")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m snapexport ARGS`` in a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "snapexport", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def helper(name: str, *args: str) -> subprocess.Popen[str]:
    """Start a helper script from tests/store/helpers with stdout piped, line by line."""
    return subprocess.Popen(
        [sys.executable, str(HELPERS / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
