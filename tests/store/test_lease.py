"""Lease locks (the object-storage lock): a holder whose lease lapses stops writing.

The lock runs on a real folder backend here; the S3 tests run the same lock against a
real S3-protocol server. ``FlakyBackend`` makes the lock's renewals fail on demand, as an
unreachable bucket would, and ``ManualClock`` moves the lease's time only when a test says
so: no test waits on the real clock, so a loaded machine cannot make one fail.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import threading
from pathlib import Path

import pytest

from snapexport.errors import StoreLockedError
from snapexport.store import Store
from snapexport.store.backend import LocalBackend
from snapexport.store.lease import Clock, LeaseLock

LEASE = 30.0  # seconds on the manual clock: renewed every 10, retried every 1, lost below 5


class ManualClock(Clock):
    """Time that moves only when a test calls ``advance``.

    ``advance`` returns once the lease thread has acted on the new time and waits again,
    so a test sees each renewal's outcome without sleeping.
    """

    def __init__(self) -> None:
        self._t = 1000.0
        self._wall = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        self._cond = threading.Condition()
        self._sleepers: dict[int, float] = {}  # thread -> deadline (-inf: awake, working)

    def now(self) -> dt.datetime:
        with self._cond:
            return self._wall + dt.timedelta(seconds=self._t - 1000.0)

    def elapsed(self) -> float:
        with self._cond:
            return self._t

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        me = threading.get_ident()
        with self._cond:
            deadline = self._t + seconds
            self._sleepers[me] = deadline
            self._cond.notify_all()
            # ``stop`` is an Event the clock is not told about: look at it now and then.
            while not stop.is_set() and self._t < deadline:
                self._cond.wait(0.01)
            if stop.is_set():
                del self._sleepers[me]
                self._cond.notify_all()
                return True
            self._sleepers[me] = -math.inf
            return False

    def advance(self, seconds: float) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self._sleepers, timeout=60), "no lease thread"
            self._t += seconds
            self._cond.notify_all()
            settled = self._cond.wait_for(
                lambda: all(d > self._t for d in self._sleepers.values()), timeout=60
            )
            assert settled, "the lease thread did not come back to wait"


class FlakyBackend(LocalBackend):
    """A folder backend whose lock writes fail while ``down`` is set."""

    down = False

    def save_bytes(self, name: str, data: bytes) -> None:
        if self.down:
            raise OSError("connection refused")
        super().save_bytes(name, data)


def _lease(backend: LocalBackend, clock: ManualClock) -> LeaseLock:
    return LeaseLock(backend, exclusive=True, lease=LEASE, clock=clock)


def _expires(lock: LeaseLock) -> dt.datetime:
    ((name, _),) = lock.backend.list("locks/")
    return dt.datetime.fromisoformat(json.loads(lock.backend.load(name))["expires"])


def test_a_renewed_lease_stays_held(tmp_path: Path) -> None:
    clock = ManualClock()
    lock = _lease(FlakyBackend(tmp_path), clock)
    try:
        for _ in range(8):  # several renewals, well past the first lease
            clock.advance(LEASE / 3)
            lock.ensure_held()
            assert _expires(lock) == clock.now() + dt.timedelta(seconds=LEASE)
        assert len(list(lock.backend.list("locks/"))) == 1  # old lease objects are deleted
    finally:
        lock.release()
    assert list(lock.backend.list("locks/")) == []


def test_a_lease_that_cannot_be_renewed_is_lost_and_says_so(tmp_path: Path) -> None:
    backend = FlakyBackend(tmp_path)
    clock = ManualClock()
    lock = _lease(backend, clock)
    try:
        backend.down = True
        lock.ensure_held()  # a fresh lease has its margin
        clock.advance(10)  # the renewal fails
        lock.ensure_held()  # 20 s left
        clock.advance(16)  # so does the retry: 4 s left, under the sixth
        with pytest.raises(StoreLockedError, match="lost the store's lock"):
            lock.ensure_held()
        # Once the bucket answers again the next renewal (retried every lease/30) restores
        # the lease: the lock is held again, not left broken.
        backend.down = False
        clock.advance(LEASE / 30)
        lock.ensure_held()
    finally:
        lock.release()


def test_failed_renewals_are_retried_before_the_lease_runs_low(tmp_path: Path) -> None:
    backend = FlakyBackend(tmp_path)
    clock = ManualClock()
    lock = _lease(backend, clock)
    try:
        backend.down = True
        clock.advance(10)  # the renewal due at 10 s fails
        clock.advance(1)  # so does its retry a thirtieth of the lease later
        backend.down = False
        clock.advance(1)  # the next retry succeeds, at 12 s and not at the plain pace (20 s)
        assert _expires(lock) == clock.now() + dt.timedelta(seconds=LEASE)
        lock.ensure_held()
    finally:
        lock.release()


def test_renew_once_says_when_to_try_next(tmp_path: Path) -> None:
    backend = FlakyBackend(tmp_path)
    clock = ManualClock()
    lock = _lease(backend, clock)
    try:
        assert lock.renew_once() == LEASE / 3
        backend.down = True
        assert lock.renew_once() == LEASE / 30
    finally:
        lock.release()
    assert lock.renew_once() is None


def test_a_store_whose_lease_lapsed_stops_before_writing(tmp_path: Path) -> None:
    with Store.init(tmp_path / "store") as store:
        ref = store.put_bytes(b"kept")
    lost = pytest.raises(StoreLockedError, match="lost the store's lock")
    with lost, Store.open(tmp_path / "store", write=True) as store:
        backend = FlakyBackend(tmp_path / "leases")
        clock = ManualClock()
        store.lock.release()
        store.lock = _lease(backend, clock)
        store.put_bytes(b"written while the lease is good")
        backend.down = True
        clock.advance(10)
        clock.advance(16)  # both renewals failed: the lease is lost
        store.put_bytes(b"never written")
    # The run was aborted: what it put after losing the lock is not in the store, what was
    # there before is intact.
    with Store.open(tmp_path / "store") as store:
        assert b"".join(store.read_blob(ref.id)) == b"kept"
        assert store.catalog.conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1
