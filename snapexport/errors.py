"""One exception family with user-facing messages and exit codes.

Library code raises these; only the CLI turns them into one line on stderr and an exit
code. Exit codes are part of the interface (docs/usage.md):

    0  done
    1  error: nothing was committed
    2  usage error (bad arguments, unknown snapshot, bad target)
    3  committed, but incomplete (some files could not be read)
"""

from __future__ import annotations

import errno

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


class SnapexportError(Exception):
    """Base of every error meant for the user: ``str(err)`` is the one-line message."""

    exit_code: int = EXIT_ERROR


class RequestError(SnapexportError):
    """What the caller asked for cannot be done as asked: a malformed value (a duration, a
    profile name), a path that is not an export, a passphrase that does not fit, options that
    contradict. Nothing was changed. The CLI answers 2 (the caller must ask differently)."""

    exit_code = EXIT_USAGE


# The command line's own name for a request error (cli/ only; tests/test_layers.py keeps it
# out of library code, which raises RequestError or a more specific subclass).
UsageError = RequestError


class SnapshotNotFoundError(SnapexportError):
    """No snapshot (or more than one) matches what the caller named; the CLI answers 2."""

    exit_code = EXIT_USAGE


class StoreError(SnapexportError):
    """The store folder is missing, foreign, or unusable."""


class StoreLockedError(StoreError):
    """Another process holds the store's lock."""


class CatalogVersionError(StoreError):
    """The catalog was written by a newer snapexport than this one."""


class CorruptionError(StoreError):
    """Stored data does not match its id, or a referenced object is missing."""


class SourceError(SnapexportError):
    """The Django site could not be read (settings, database, media folder)."""


class SnapshotIncompleteError(SnapexportError):
    """Some files could not be read; raised by --strict instead of committing."""


class MaterializeError(SnapexportError):
    """A snapshot could not be written out as an export."""


class ExportRequestError(MaterializeError):
    """The export asked for cannot be made as asked: the target is missing, not a folder or
    not writable, a zip name is unusable, or options contradict; nothing was written. The
    CLI answers 2."""

    exit_code = EXIT_USAGE


class InterruptedRunError(SnapexportError):
    """Ctrl-C (or SIGTERM) stopped a run that had already changed something outside the
    store, such as the files of a folder export: the message says what is left."""

    exit_code = 130


_NEXT_STEP = {
    errno.ENOSPC: "the disk is full: free space on it, then run the command again",
    errno.EDQUOT: "the disk quota is used up: free space, then run the command again",
    errno.EACCES: "permission denied: check that path's owner and permissions (a store is"
    " private to the user who made it: run as that user)",
    errno.EPERM: "operation not permitted: check that path's owner and permissions",
    errno.EROFS: "the file system is read-only: remount it writable, or use a command that"
    " only reads",
    errno.ENOENT: "it does not exist: check the path",
    errno.EIO: "input/output error: the disk may be failing; check it (dmesg, smartctl)",
}


def os_error_message(err: OSError, doing: str = "") -> str:
    """One line for an OSError: the path it concerns, what happened, and the next step."""
    path = err.filename if err.filename is not None else None
    where = f" {path}" if path is not None else ""
    step = _NEXT_STEP.get(err.errno or 0)
    what = f"{doing}{where}" if doing else (str(path) if path is not None else "")
    if step:
        return f"{what}: {step}" if what else step
    reason = err.strerror or str(err)
    return f"{what}: {reason}" if what else reason
