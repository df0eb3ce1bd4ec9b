"""Locks on object storage: lock objects with a lease, refreshed while the holder lives.

Object storage has no flock, so each holder writes ``locks/<random>.json`` naming itself
(host, pid, start time), its kind (``exclusive`` for a writer, ``shared`` for a reader) and
the time its lease expires. After writing its own object a process lists ``locks/``: another
live exclusive lock, or (for a writer) any other live lock, means it backs off, deletes its
own object and raises ``StoreLockedError`` naming the holder. Two processes racing each see
the other and both back off. A lock whose lease has expired, or whose holder ran on this
host and is no longer running, is stale: it is ignored, and a writer deletes it.

A background thread renews the lease (a new object, then the old one is deleted: objects
are never rewritten) every third of the lease, and retries a failed renewal every thirtieth.
A holder whose lease could not be renewed in time must assume another process may now
hold the store: ``ensure_held`` raises once less than a sixth of the lease is left (the
rest is the margin for clocks that disagree between hosts), and the store calls it before
every write, commit, upload and deletion, so a writer that lost its lock stops before it
can publish a catalog or delete packs another writer relies on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from dataclasses import dataclass

from snapexport.errors import StoreLockedError
from snapexport.store.backend import Backend
from snapexport.store.layout import LOCKS_PREFIX
from snapexport.store.lock import APPEND, EXCLUSIVE, SHARED, Holder, lock_mode

LEASE_ENV = "SNAPEXPORT_LOCK_LEASE"  # seconds
DEFAULT_LEASE = 900.0


class Clock:
    """The time a lease is measured by; tests swap in a clock they advance by hand."""

    def now(self) -> dt.datetime:
        """Wall-clock time (written into lock objects, compared across hosts)."""
        return dt.datetime.now(dt.UTC)

    def elapsed(self) -> float:
        """Seconds on a clock that keeps running while the machine is suspended (Linux's
        CLOCK_BOOTTIME; elsewhere the monotonic clock): a lease runs out during a suspend too."""
        if hasattr(time, "CLOCK_BOOTTIME"):
            return time.clock_gettime(time.CLOCK_BOOTTIME)
        return time.monotonic()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` or until ``stop`` is set; True when it was set."""
        return stop.wait(seconds)


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """One lock object as read back."""

    name: str
    holder: Holder
    exclusive: bool
    expires: dt.datetime
    append: bool = False  # a writer that only adds: readers may work beside it

    def stale(self, now: dt.datetime) -> bool:
        if self.expires < now:
            return True
        if self.holder.host == socket.gethostname():
            try:
                os.kill(self.holder.pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
        return False


def _parse(name: str, raw: bytes) -> LeaseRecord | None:
    try:
        doc = json.loads(raw)
        holder = Holder(str(doc["host"]), int(doc["pid"]), str(doc["started"]))
        expires = dt.datetime.fromisoformat(str(doc["expires"]))
        kind = doc["kind"]
        return LeaseRecord(name, holder, kind == EXCLUSIVE, expires, kind == APPEND)
    except (ValueError, KeyError, TypeError):
        return None


class LeaseLock:
    """A held lock on an object store; ``release`` (or closing the store) gives it up."""

    def __init__(
        self,
        backend: Backend,
        *,
        exclusive: bool,
        append: bool = False,
        lease: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.backend = backend
        self.clock = clock or Clock()
        self.mode = lock_mode(exclusive=exclusive, append=append)
        self.exclusive = exclusive
        self.holder = Holder.me()
        self.lease = float(lease or os.environ.get(LEASE_ENV, DEFAULT_LEASE))
        #: a writer's lock left by a dead or expired holder, found and removed
        self.stale: Holder | None = None
        self._name: str | None = None
        self._stop = threading.Event()
        self._mutex = threading.Lock()
        self._held_until = 0.0  # clock.elapsed() when the last lease written runs out
        self._name = self._write()
        try:
            self._check_others()
        except BaseException:
            self.release()
            raise
        self._thread = threading.Thread(target=self._renew, name="lock-lease", daemon=True)
        self._thread.start()

    def _write(self) -> str:
        started = self.clock.elapsed()
        expires = self.clock.now() + dt.timedelta(seconds=self.lease)
        doc = {
            "kind": self.mode,
            "host": self.holder.host,
            "pid": self.holder.pid,
            "started": self.holder.started,
            "expires": expires.isoformat(timespec="seconds"),
        }
        name = f"{LOCKS_PREFIX}{os.urandom(16).hex()}.json"
        self.backend.save_bytes(name, json.dumps(doc).encode())
        self._held_until = started + self.lease
        return name

    def ensure_held(self) -> None:
        """Raise StoreLockedError unless the lease still has a safe margin left."""
        left = self._held_until - self.clock.elapsed()
        if left < self.lease / 6:
            raise StoreLockedError(
                "lost the store's lock: its lease could not be renewed in time"
                f" ({max(left, 0):.0f} s of {self.lease:.0f} s left), so another process may"
                " hold the store now; stopping before anything more is written"
            )

    def _others(self) -> list[LeaseRecord]:
        out = []
        for name, _ in self.backend.list(LOCKS_PREFIX):
            if name == self._name:
                continue
            try:
                rec = _parse(name, self.backend.load(name))
            except FileNotFoundError:
                continue  # released meanwhile
            if rec is not None:
                out.append(rec)
        return out

    def _check_others(self) -> None:
        now = self.clock.now()
        live: list[LeaseRecord] = []
        for rec in self._others():
            if rec.stale(now):
                if self.exclusive:
                    if (rec.exclusive or rec.append) and self.stale is None:
                        self.stale = rec.holder
                    self.backend.remove(rec.name)
                continue
            live.append(rec)
        # A reader yields to an exclusive writer only; writers yield to every writer; an
        # exclusive writer also to readers.
        writers = [r for r in live if r.exclusive or (r.append and self.mode != SHARED)]
        if writers:
            w = writers[0].holder
            raise StoreLockedError(f"store is locked by a writer: {w.describe()}")
        live = [r for r in live if not r.append]
        if self.mode == EXCLUSIVE and live:
            names = "; ".join(r.holder.describe() for r in live[:3])
            more = f" and {len(live) - 3} more" if len(live) > 3 else ""
            raise StoreLockedError(f"store is in use by {len(live)} reader(s): {names}{more}")

    def _renew(self) -> None:
        wait = self.lease / 3
        while not self.clock.wait(self._stop, wait):
            next_wait = self.renew_once()
            if next_wait is None:
                return
            wait = next_wait

    def renew_once(self) -> float | None:
        """Write a fresh lease and delete the old one; returns the seconds until the next
        renewal (a third of the lease, or a thirtieth after a failure), None once released."""
        with self._mutex:
            if self._name is None:
                return None
            try:
                new = self._write()
            except Exception:  # retried soon; ensure_held stops the writer if it lapses
                return self.lease / 30
            old, self._name = self._name, new
            with contextlib.suppress(Exception):
                self.backend.remove(old)
            return self.lease / 3

    def release(self) -> None:
        """Delete the lock object and stop renewing; safe to call twice."""
        self._stop.set()
        with self._mutex:
            name, self._name = self._name, None
        if name is not None:
            with contextlib.suppress(Exception):
                self.backend.remove(name)
