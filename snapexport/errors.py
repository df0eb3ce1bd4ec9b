"""One exception family with user-facing messages and exit codes.

Library code raises these; only the CLI turns them into one line on stderr and an exit
code. Exit codes are part of the interface (docs/usage.md):

    0  done
    1  error: nothing was committed
    2  usage error (bad arguments, unknown snapshot, bad target)
    3  committed, but incomplete (some files could not be read)
"""

from __future__ import annotations

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
