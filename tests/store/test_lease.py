"""Lease locks (the object-storage lock): a holder whose lease lapses stops writing.

The lock runs on a real folder backend here; the S3 tests run the same lock against a
real S3-protocol server. ``FlakyBackend`` makes the lock's renewals fail on demand, as an
unreachable bucket would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from snapexport.errors import StoreLockedError
from snapexport.store import Store
from snapexport.store.backend import LocalBackend
from snapexport.store.lease import LeaseLock

LEASE = 0.6  # seconds: renewed every 0.2 s, lost once less than 0.1 s is left


class FlakyBackend(LocalBackend):
    """A folder backend whose lock writes fail while ``down`` is set."""

    down = False

    def save_bytes(self, name: str, data: bytes) -> None:
        if self.down:
            raise OSError("connection refused")
        super().save_bytes(name, data)


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_renewed_lease_stays_held(tmp_path: Path) -> None:
    lock = LeaseLock(FlakyBackend(tmp_path), exclusive=True, lease=LEASE)
    try:
        time.sleep(LEASE * 2.5)  # several renewals
        lock.ensure_held()
        assert len(list(lock.backend.list("locks/"))) == 1  # old lease objects are deleted
    finally:
        lock.release()
    assert list(lock.backend.list("locks/")) == []


def test_a_lease_that_cannot_be_renewed_is_lost_and_says_so(tmp_path: Path) -> None:
    backend = FlakyBackend(tmp_path)
    lock = LeaseLock(backend, exclusive=True, lease=LEASE)
    try:
        backend.down = True
        lock.ensure_held()  # a fresh lease has its margin
        assert _wait_for(lambda: _lost(lock), LEASE * 2)
        with pytest.raises(StoreLockedError, match="lost the store's lock"):
            lock.ensure_held()
        # Once the bucket answers again the next renewal (retried every lease/30) restores
        # the lease: the lock is held again, not left broken.
        backend.down = False
        assert _wait_for(lambda: not _lost(lock), LEASE)
    finally:
        lock.release()


def test_failed_renewals_are_retried_before_the_lease_runs_low(tmp_path: Path) -> None:
    backend = FlakyBackend(tmp_path)
    lock = LeaseLock(backend, exclusive=True, lease=LEASE)
    try:
        time.sleep(0.15)
        backend.down = True
        time.sleep(0.3)  # the renewals due at 0.2 s and 0.4 s both fail
        backend.down = False
        time.sleep(0.1)
        # Retried every lease/30, the lease was renewed as soon as the bucket answered; at
        # the plain pace (next try at 0.6 s) only 0.05 s of it would be left now.
        lock.ensure_held()
    finally:
        lock.release()


def _lost(lock: LeaseLock) -> bool:
    try:
        lock.ensure_held()
    except StoreLockedError:
        return True
    return False


def test_a_store_whose_lease_lapsed_stops_before_writing(tmp_path: Path) -> None:
    with Store.init(tmp_path / "store") as store:
        ref = store.put_bytes(b"kept")
    lost = pytest.raises(StoreLockedError, match="lost the store's lock")
    with lost, Store.open(tmp_path / "store", write=True) as store:
        backend = FlakyBackend(tmp_path / "leases")
        store.lock.release()
        lease = store.lock = LeaseLock(backend, exclusive=True, lease=LEASE)
        store.put_bytes(b"written while the lease is good")
        backend.down = True
        assert _wait_for(lambda: _lost(lease), LEASE * 2)
        store.put_bytes(b"never written")
    # The run was aborted: what it put after losing the lock is not in the store, what was
    # there before is intact.
    with Store.open(tmp_path / "store") as store:
        assert b"".join(store.read_blob(ref.id)) == b"kept"
        assert store.catalog.conn.execute("SELECT count(*) FROM blobs").fetchone()[0] == 1
