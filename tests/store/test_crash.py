"""kill -9 in the middle of writing: committed blobs stay readable, check passes after."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
from store_testing import HELPERS, helper, run_cli

from snapexport.store import Store

sys.path.insert(0, str(HELPERS))
from write_many import content


@pytest.mark.parametrize("delay", [0.4, 0.9, 1.7])
def test_sigkill_while_writing(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "store"
    init = helper("write_many.py", str(path), "init")
    assert init.wait() == 0
    committed: dict[int, bytes] = {}
    for _round in range(2):  # crash twice: the second run starts from a crashed store
        proc = helper("write_many.py", str(path))
        assert proc.stdout is not None
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            _, n, blob = line.split()
            committed[int(n)] = bytes.fromhex(blob)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # whatever was printed before the kill was committed: read the rest of the pipe
        for line in proc.stdout:
            _, n, blob = line.split()
            committed[int(n)] = bytes.fromhex(blob)
        assert proc.returncode == -signal.SIGKILL
    assert committed, "the writer committed nothing before being killed"

    out = run_cli("check", "--read-data", "--store", str(path))
    assert out.returncode == 0, out.stderr
    with Store.open(path) as store:
        for n, blob in committed.items():
            assert b"".join(store.read_blob(blob)) == content(n)
    assert run_cli("check", "--store", str(path)).stdout.count("repaired") == 0
