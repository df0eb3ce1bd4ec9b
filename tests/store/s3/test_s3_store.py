"""The store on a real S3-protocol server over loopback HTTP: round trips, locks, faults."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import pytest
from store_testing import HELPERS, TINY_CHUNKS

from snapexport.errors import StoreError, StoreLockedError
from snapexport.store import Store

sys.path.insert(0, str(HELPERS))
from write_many import content

if TYPE_CHECKING:  # annotations only: "import conftest" finds whichever folder's came first
    from conftest import FaultProxy


def _data(n: int) -> bytes:
    return blake3.blake3(bytes([n])).digest(length=50_000) + str(n).encode() * 20_000


def test_round_trip_multipart_and_reopen(s3_env: dict[str, str]) -> None:
    store_url = s3_env["STORE"]
    big = os.urandom(20 << 20)  # one pack above the multipart part size
    with Store.init(store_url, pack_size=18 << 20) as store:
        refs = [store.put_bytes(_data(i)) for i in range(5)]
        big_ref = store.put_bytes(big)
        blobs = {r.id: _data(i) for i, r in enumerate(refs)}
    with Store.open(store_url) as store:
        for blob_id, data in blobs.items():
            assert b"".join(store.read_blob(blob_id)) == data
        assert b"".join(store.read_blob(big_ref.id)) == big
        names = [n for n, _ in store.backend.list("")]
    assert "config" in names and any(n.startswith("packs/") for n in names)
    assert sum(n.startswith("locks/") for n in names) == 1  # the reader's own; the writer's
    # was released on close


def test_second_writer_is_refused_naming_the_holder(s3_env: dict[str, str]) -> None:
    Store.init(s3_env["STORE"]).close()
    with Store.open(s3_env["STORE"], write=True):
        with pytest.raises(StoreLockedError, match=f"pid {os.getpid()} on {socket.gethostname()}"):
            Store.open(s3_env["STORE"], write=True)
        with pytest.raises(StoreLockedError, match="locked by a writer"):
            Store.open(s3_env["STORE"])
    with Store.open(s3_env["STORE"]), pytest.raises(StoreLockedError, match="reader"):
        Store.open(s3_env["STORE"], write=True)


def test_stale_lease_is_detected(s3_env: dict[str, str]) -> None:
    Store.init(s3_env["STORE"]).close()
    with Store.open(s3_env["STORE"]) as store:
        stale = (
            b'{"kind": "exclusive", "host": "elsewhere", "pid": 7, '
            b'"started": "2020-01-01T00:00:00+00:00", "expires": "2020-01-01T00:15:00+00:00"}'
        )
        store.backend.save_bytes("locks/old.json", stale)
    with Store.open(s3_env["STORE"], write=True) as store:
        assert store.lock.stale is not None and store.lock.stale.host == "elsewhere"
        assert store.backend.stat("locks/old.json") is None


def test_injected_503s_are_retried(fault_proxy: FaultProxy, s3_env: dict[str, str]) -> None:
    fault_proxy.fail_every = 4
    with Store.init(s3_env["STORE"], pack_size=64 * 1024, chunker=TINY_CHUNKS) as store:
        refs = [store.put_bytes(_data(i)) for i in range(4)]
    with Store.open(s3_env["STORE"]) as store:
        for i, r in enumerate(refs):
            assert b"".join(store.read_blob(r.id)) == _data(i)
    assert fault_proxy.injected >= 3


def _writer(url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HELPERS / "write_many.py"), url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
    )  # fmt: skip


def _read_committed(proc: subprocess.Popen[str], until: float) -> dict[int, bytes]:
    got: dict[int, bytes] = {}
    assert proc.stdout is not None
    while time.monotonic() < until:
        line = proc.stdout.readline()
        if not line:
            break
        _, n, blob = line.split()
        got[int(n)] = bytes.fromhex(blob)
    return got


def _init_many(url: str) -> None:
    done = subprocess.run([sys.executable, str(HELPERS / "write_many.py"), url, "init"])
    assert done.returncode == 0


def _check_clean(url: str, env: dict[str, str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "snapexport", "check", "--read-data", "--store", url],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "damaged" not in out.stdout + out.stderr


def test_kill_9_mid_upload_then_next_run_finishes(s3_env: dict[str, str]) -> None:
    url = s3_env["STORE"]
    _init_many(url)
    proc = _writer(url)
    committed = _read_committed(proc, time.monotonic() + 1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert committed
    _check_clean(url, s3_env)  # recovery adopts what the killed run uploaded
    with Store.open(url, write=True) as store:
        for n, blob in committed.items():
            assert b"".join(store.read_blob(blob)) == content(n)
        store.put_bytes(b"the next run")


def test_storage_gone_mid_run_then_back(
    fault_proxy: FaultProxy, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAPEXPORT_S3_RETRY_SECONDS", "1")
    s3_env["SNAPEXPORT_S3_RETRY_SECONDS"] = "1"
    url = s3_env["STORE"]
    _init_many(url)
    proc = _writer(url)
    committed = _read_committed(proc, time.monotonic() + 1.0)
    fault_proxy.stop()
    # keep draining: a full pipe would block the writer before it meets the outage
    assert proc.stdout is not None
    for line in proc.stdout:
        _, n, blob = line.split()
        committed[int(n)] = bytes.fromhex(blob)
    assert proc.wait(timeout=60) != 0
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "BackendError" in err and "S3 " in err and "failed" in err
    assert committed
    # a clear one-line error from the CLI while it is gone
    out = subprocess.run(
        [sys.executable, "-m", "snapexport", "stats", "--store", url],
        capture_output=True, text=True, env={**os.environ, **s3_env}, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("snapexport: error: S3 ")
    fault_proxy.start()
    _check_clean(url, s3_env)
    # check --read-data above re-hashed every chunk; read back a spread of the committed
    # blobs (all of them would be thousands of ranged requests through the test proxy).
    ordered = sorted(committed.items())
    sample = ordered[:: max(1, len(ordered) // 40)] + ordered[-5:]
    with Store.open(url, write=True) as store:
        for n, blob in sample:
            assert b"".join(store.read_blob(blob)) == content(n)
        store.put_bytes(b"after the outage")


def test_missing_bucket_and_bad_location(s3_env: dict[str, str]) -> None:
    with pytest.raises(StoreError, match="no snapexport store at s3://"):
        Store.open(f"s3://{s3_env['BUCKET']}/nothing-here")
    with pytest.raises(StoreError, match="no snapexport store"):
        Store.open("s3://no-such-bucket-anywhere/x")
    with pytest.raises(StoreError, match="names no bucket"):
        Store.open("s3:///x")


def test_local_catalog_lives_in_the_cache(s3_env: dict[str, str]) -> None:
    with Store.init(s3_env["STORE"]) as store:
        store_id = store.config.store_id
    assert (Path(s3_env["SNAPEXPORT_CACHE_DIR"]) / store_id / "catalog.sqlite").exists()
