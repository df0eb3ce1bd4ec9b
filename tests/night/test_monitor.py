"""Pings follow the Healthchecks and Uptime Kuma conventions and never hang a run."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from pingserver import PingServer

from snapexport.run import monitor


def test_conventions_and_bodies() -> None:
    server = PingServer()
    try:
        mon = {"healthchecks": f"{server.url}/uuid", "uptime_kuma": f"{server.url}/push/t?x=1",
               "ping_fail": f"{server.url}/plain"}  # fmt: skip
        assert monitor.send(monitor.pings(mon, "start")) == []
        assert monitor.send(monitor.pings(mon, "fail", "snapshot failed\n" + "x" * 20000)) == []
        hits = server.take()
        assert [(h.method, h.path.split("?")[0]) for h in hits] == [
            ("POST", "/uuid/start"), ("POST", "/uuid/fail"), ("GET", "/push/t"), ("POST", "/plain"),
        ]  # fmt: skip
        assert hits[1].body.startswith("snapshot failed") and len(hits[1].body) == 10_000
        assert "x=1&status=down&msg=snapshot+failed" in hits[2].path
        server.status = 500
        warnings = monitor.send(monitor.pings(mon, "success", "ok"))
        assert len(warnings) == 2 and "HTTP 500" in warnings[0]
    finally:
        server.stop()


def test_a_monitor_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/x"
        began = time.monotonic()
        warnings = monitor.send(monitor.pings({"ping_start": url}, "start"), timeout=0.5)
        assert time.monotonic() - began < 10
    assert len(warnings) == 1 and "timed out" in warnings[0]


def test_files_are_replaced_whole(tmp_path: Path) -> None:
    run = {"finished_unix": 1796512753.289483, "exit_code": 3, "seconds": 2.5}
    steps = {"snapshot": {"outcome": "incomplete", "seconds": 1.0, "finished_unix": 1.5,
                          "figures": {"bytes_stored": 10, "complete": True}}}  # fmt: skip
    text = monitor.metrics_text(run, steps)
    assert "snapexport_run_last_timestamp_seconds 1796512753.289483\n" in text
    assert 'snapexport_step_success{step="snapshot"} 0' in text
    assert 'snapexport_step_bytes_stored{step="snapshot"} 10' in text
    assert "snapexport_step_complete" not in text  # booleans are not metrics
    status = tmp_path / "s" / "status.json"
    monitor.write_status(status, run, monitor.last_runs(status, steps))
    merged = monitor.last_runs(status, {"check": {"outcome": "ok"}})
    assert set(merged) == {"snapshot", "check"}
    assert status.stat().st_mode & 0o777 == 0o600
    assert not [p for p in status.parent.iterdir() if p.name != "status.json"]
