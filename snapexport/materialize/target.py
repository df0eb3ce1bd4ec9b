"""TARGET of a materialize run: a writable folder, made with its parents when missing."""

from __future__ import annotations

import os
from pathlib import Path

from snapexport.errors import ExportRequestError, InterruptedRunError


def check_target(target: Path) -> None:
    """TARGET must be a writable folder; a missing one is created with its parents (the
    exporter refuses a missing path; unattended runs into a new dated folder need this)."""
    if not target.exists():
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ExportRequestError(
                f"cannot create the target folder {target}: {err.strerror or err}"
                " (create it yourself, or choose a folder you can write to)"
            ) from None
    if not target.is_dir():
        raise ExportRequestError(
            f"{target} exists and is not a folder: give a folder for the export"
        )
    if not os.access(target, os.W_OK):
        raise ExportRequestError(
            f"{target} is not writable: check its owner and permissions, or choose another folder"
        )


def interrupted(target: Path, is_zip: bool) -> BaseException:
    """What Ctrl-C during a materialize becomes: a folder export says it is partial; a zip
    was never renamed into place, so nothing is left and the interrupt goes on as it is."""
    if is_zip:
        return KeyboardInterrupt()
    return InterruptedRunError(
        f"interrupted: the export in {target} is partial; run the same materialize again"
        " to finish it"
    )


__all__ = ["check_target", "interrupted"]
