"""One writer or many readers: flock on ``locks/lock`` plus JSON files naming the holders.

The kernel releases a flock when its process dies, so the lock itself can never go stale. The
holder files only serve error messages: a holder file whose process no longer holds the lock
is stale and is overwritten or deleted, never obeyed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from snapexport.errors import StoreLockedError
from snapexport.fsutil import atomic_write_bytes
from snapexport.store.layout import LOCK_FILE, READERS_DIR, WRITER_FILE


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


class StoreLock:
    """A held lock on a store; ``release`` (or closing the store) gives it up."""

    def __init__(self, locks_dir: Path, *, exclusive: bool) -> None:
        self.locks_dir = locks_dir
        self.exclusive = exclusive
        self.holder = Holder.me()
        #: the holder file of a writer that died without releasing, found and replaced
        self.stale: Holder | None = None
        self._info_path: Path | None = None
        (locks_dir / READERS_DIR).mkdir(parents=True, exist_ok=True)
        self._fd = os.open(locks_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise StoreLockedError(self._busy_message()) from None
        try:
            self._record_holder()
        except BaseException:
            self.release()
            raise

    def _busy_message(self) -> str:
        writer = Holder.from_file(self.locks_dir / WRITER_FILE)
        if writer is not None:
            return f"store is locked by a writer: {writer.describe()}"
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
        if self.exclusive:
            # Holding LOCK_EX proves no other process holds the lock: any holder files left
            # behind belong to dead processes.
            path = self.locks_dir / WRITER_FILE
            self.stale = Holder.from_file(path)
            for p in (self.locks_dir / READERS_DIR).glob("*.json"):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        else:
            name = f"{self.holder.host}.{self.holder.pid}.{os.urandom(4).hex()}.json"
            path = self.locks_dir / READERS_DIR / name
            # A writer's file can only be stale while we hold LOCK_SH.
            with contextlib.suppress(FileNotFoundError):
                (self.locks_dir / WRITER_FILE).unlink()
        atomic_write_bytes(path, self.holder.to_json())
        self._info_path = path

    def ensure_held(self) -> None:
        """An flock is held until it is released or the process ends: nothing to check."""

    def release(self) -> None:
        """Delete the holder file and drop the flock; safe to call twice."""
        if self._fd < 0:
            return
        if self._info_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._info_path.unlink()
            self._info_path = None
        os.close(self._fd)
        self._fd = -1
