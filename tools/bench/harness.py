"""What every stand-alone benchmark script shares: common flags, a work folder, a log,
the verdict lines and the results file."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def add_common_args(
    parser: argparse.ArgumentParser, *, repeat: int, repeat_help: str, results: Path
) -> None:
    """--seed, --repeat, --dir and --json, as every benchmark takes them."""
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=repeat, help=repeat_help)
    parser.add_argument("--dir", type=Path, help="work folder, kept (default: a temp folder)")
    parser.add_argument("--json", type=Path, default=results, help="results")


@contextlib.contextmanager
def work_folder(kept: Path | None, prefix: str) -> Iterator[Path]:
    """``kept`` if given (and left in place), else a temporary folder removed afterwards."""
    work = kept or Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    finally:
        if kept is None:
            shutil.rmtree(work, ignore_errors=True)


def log(text: str) -> None:
    """Progress on stderr, so stdout holds only the results."""
    print(f"# {text}", file=sys.stderr, flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISS"


def print_verdicts(table: str, met: dict[str, bool]) -> None:
    print(table)
    print()
    for name, ok in met.items():
        print(f"{name}: {verdict(ok)}")


def write_results(path: Path, results: dict[str, Any]) -> None:
    """The results as JSON, with the machine they were measured on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count()}
    path.write_text(json.dumps({"machine": machine, **results}, indent=2) + "\n")
    print(f"wrote {path}")
