"""One writer at a time; readers share; a lock held by a dead process never blocks."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest
from store_testing import helper, run_cli

from snapexport.errors import StoreLockedError
from snapexport.store import Store


def _start_holder(store_path: Path, mode: str):  # type: ignore[no-untyped-def]
    proc = helper("hold_lock.py", str(store_path), mode)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_is_refused_naming_the_holder(store_path: Path) -> None:
    proc = _start_holder(store_path, "write")
    try:
        with pytest.raises(StoreLockedError) as err:
            Store.open(store_path, write=True)
        assert f"pid {proc.pid}" in str(err.value)
        assert socket.gethostname() in str(err.value)
        assert "since 20" in str(err.value)  # start time
        with pytest.raises(StoreLockedError):
            Store.open(store_path)  # readers wait for no writer either
        out = run_cli("check", "--store", str(store_path))
        assert out.returncode == 1 and f"pid {proc.pid}" in out.stderr
    finally:
        proc.kill()
        proc.wait()


def test_readers_share_and_block_writers(store_path: Path) -> None:
    proc = _start_holder(store_path, "read")
    try:
        with Store.open(store_path) as reader:
            assert reader.has_blob(b"\0" * 32) is False
        with pytest.raises(StoreLockedError, match=f"reader.*pid {proc.pid}"):
            Store.open(store_path, write=True)
    finally:
        proc.kill()
        proc.wait()


def test_stale_lock_of_killed_writer_is_detected(store_path: Path) -> None:
    proc = _start_holder(store_path, "write")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (store_path / "locks" / "writer.json").exists()  # holder info left behind
    with Store.open(store_path, write=True) as store:
        assert store.lock.stale is not None and store.lock.stale.pid == proc.pid
        store.put_bytes(b"after the crash")
    assert not (store_path / "locks" / "writer.json").exists()


def test_stale_reader_file_does_not_block(store_path: Path) -> None:
    proc = _start_holder(store_path, "read")
    proc.kill()
    proc.wait()
    with Store.open(store_path, write=True):
        pass
    assert list((store_path / "locks" / "readers").iterdir()) == []
