"""Store locks in a folder: one writer at a time, readers beside a writer that only adds.

Two flocks: ``locks/lock`` is the writers' (every writer holds it exclusively), and
``locks/gc`` is the readers' (readers share it; a writer that deletes or rewrites what
readers may be reading holds it exclusively too). So a snapshot (an *append* writer: it
only adds packs and commits new rows) runs beside any number of readers, who see the last
committed catalog, while prune, forget, rebuild-catalog, repair and key changes wait for
readers to finish and keep them out. JSON files name the holders for error messages.

The kernel releases a flock when its process dies, so a lock itself can never go stale. The
holder files only serve error messages: a holder file whose process no longer holds the
lock is stale and is overwritten or deleted, never obeyed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from snapexport.errors import RequestError, StoreLockedError
from snapexport.fsutil import TMP_SUFFIX, atomic_write_bytes, create_private, private_dir
from snapexport.store.layout import GC_FILE, LOCK_FILE, READERS_DIR, WRITER_FILE

T = TypeVar("T")

SHARED, APPEND, EXCLUSIVE = "shared", "append", "exclusive"
#: how long --wait-lock polls between attempts at most (seconds)
WAIT_STEP_MAX = 2.0
WAIT_ENV = "SNAPEXPORT_WAIT_LOCK"


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or held) a lock."""

    host: str
    pid: int
    started: str

    @classmethod
    def me(cls) -> Holder:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(socket.gethostname(), os.getpid(), now)

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.started}"

    def to_json(self) -> bytes:
        return json.dumps({"host": self.host, "pid": self.pid, "started": self.started}).encode()

    @classmethod
    def from_file(cls, path: Path) -> Holder | None:
        try:
            raw = json.loads(path.read_bytes())
            return cls(str(raw["host"]), int(raw["pid"]), str(raw["started"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def lock_mode(*, exclusive: bool, append: bool = False) -> str:
    return SHARED if not exclusive else APPEND if append else EXCLUSIVE


def wait_seconds(value: float | None = None) -> float:
    """How long a refused lock is retried: ``value``, else SNAPEXPORT_WAIT_LOCK, else 0."""
    if value is not None:
        return value
    raw = os.environ.get(WAIT_ENV, "").strip()
    return parse_duration(raw) if raw else 0.0


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``2h`` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    t = text.strip().lower()
    try:
        if t and t[-1] in units:
            return float(t[:-1]) * units[t[-1]]
        return float(t)
    except ValueError:
        raise RequestError(f"--wait-lock {text!r}: give a duration such as 90s, 5m or 1h") from None


def retrying(take: Callable[[], T], wait: float, *, clock: Callable[[], float] = time.monotonic,
             pause: Callable[[float], None] = time.sleep) -> T:  # fmt: skip
    """Call ``take`` until it stops raising StoreLockedError or ``wait`` seconds are over
    (restic's --retry-lock): attempts every 0.1 s at first, backing off to 2 s."""
    deadline = clock() + wait
    step = 0.1
    while True:
        try:
            return take()
        except StoreLockedError as err:
            left = deadline - clock()
            if left <= 0:
                if wait > 0:
                    raise StoreLockedError(f"{err} (waited {wait:.0f} s)") from None
                raise
            pause(min(step, left))
            step = min(step * 2, WAIT_STEP_MAX)


class StoreLock:
    """A held lock on a store folder; ``release`` (or closing the store) gives it up.

    ``mode``: ``shared`` (a reader), ``append`` (a writer that only adds: readers may stay)
    or ``exclusive`` (a writer that may delete what readers read).
    """

    def __init__(self, locks_dir: Path, *, exclusive: bool, append: bool = False) -> None:
        self.locks_dir = locks_dir
        self.mode = lock_mode(exclusive=exclusive, append=append)
        self.exclusive = exclusive
        self.holder = Holder.me()
        #: the holder file of a writer that died without releasing, found and replaced
        self.stale: Holder | None = None
        self._info_path: Path | None = None
        self._fds: list[int] = []
        private_dir(locks_dir / READERS_DIR)
        try:
            if self.mode != SHARED:
                self._flock(LOCK_FILE, fcntl.LOCK_EX, self._writer_busy)
            self._flock(
                GC_FILE,
                fcntl.LOCK_EX if self.mode == EXCLUSIVE else fcntl.LOCK_SH,
                self._writer_busy if self.mode == SHARED else self._readers_busy,
            )
            self._record_holder()
        except BaseException:
            self.release()
            raise

    def _flock(self, name: str, how: int, busy: Callable[[], str]) -> None:
        path = self.locks_dir / name
        try:
            fd = create_private(path, os.O_RDWR | os.O_EXCL)
        except FileExistsError:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLockedError(busy()) from None
        self._fds.append(fd)

    def _writer_busy(self) -> str:
        writer = Holder.from_file(self.locks_dir / WRITER_FILE)
        if writer is not None:
            return f"store is locked by a writer: {writer.describe()}"
        return "store is locked by another process (holder unknown)"

    def _readers_busy(self) -> str:
        readers = [
            h
            for p in sorted((self.locks_dir / READERS_DIR).glob("*.json"))
            if (h := Holder.from_file(p)) is not None
        ]
        if readers:
            names = "; ".join(h.describe() for h in readers[:3])
            more = f" and {len(readers) - 3} more" if len(readers) > 3 else ""
            return f"store is in use by {len(readers)} reader(s): {names}{more}"
        return "store is locked by another process (holder unknown)"

    def _record_holder(self) -> None:
        if self.mode != SHARED:
            # Holding the writers' lock proves no other writer runs: a writer file left
            # behind belongs to a dead process.
            path = self.locks_dir / WRITER_FILE
            self.stale = Holder.from_file(path)
            # A writer killed while it wrote its holder file left the temporary behind.
            for p in self.locks_dir.glob(f".{WRITER_FILE}.*{TMP_SUFFIX}"):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
            if self.mode == EXCLUSIVE:
                # ... and the readers' lock held exclusively, that no reader does.
                for p in (self.locks_dir / READERS_DIR).iterdir():
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        p.unlink()
        else:
            name = f"{self.holder.host}.{self.holder.pid}.{os.urandom(4).hex()}.json"
            path = self.locks_dir / READERS_DIR / name
        atomic_write_bytes(path, self.holder.to_json())
        self._info_path = path

    def ensure_held(self) -> None:
        """An flock is held until it is released or the process ends: nothing to check."""

    def release(self) -> None:
        """Delete the holder file and drop the flocks; safe to call twice."""
        if self._info_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._info_path.unlink()
            self._info_path = None
        while self._fds:
            os.close(self._fds.pop())


class NoLock:
    """No lock at all: a reader of a read-only store, or one run with --no-lock."""

    mode = SHARED
    exclusive = False
    stale = None

    def __init__(self) -> None:
        self.holder = Holder.me()

    def ensure_held(self) -> None:
        pass

    def release(self) -> None:
        pass
