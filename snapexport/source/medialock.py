"""The site's media lock: the file paperless's tasks and exporter lock while they work.

Paperless locks ``MEDIA_ROOT/media.lock`` with the ``filelock`` package, which on POSIX is
an exclusive ``fcntl.flock`` on that file; taking the same kind of lock here excludes
paperless's consumer and exporter for as long as a snapshot reads files.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from snapexport.errors import SourceError


@contextlib.contextmanager
def media_lock(path: Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (created if missing); wait up to ``timeout``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise SourceError(f"cannot open the media lock {path}: {err.strerror}") from err
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise SourceError(f"cannot lock {path}: {err.strerror}") from err
                if time.monotonic() >= deadline:
                    raise SourceError(
                        f"the media lock {path} is held by another process "
                        f"(paperless busy?); gave up after {timeout:g} s"
                    ) from err
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
