"""``snapexport run`` over several simulated nights: local store, S3 copy target, policy,
rolling check, pings to a loopback monitor, status and metrics files."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pingserver import PingServer

from tests.night.test_copy import materialized
from tests.sitetools import SETTINGS, cli, generate

NIGHTS = ["2026-03-02T02:00:00+00:00", "2026-03-03T02:00:00+00:00",
          "2026-03-04T02:00:00+00:00", "2026-03-05T02:00:00+00:00"]  # fmt: skip


@pytest.fixture
def pings() -> Iterator[PingServer]:
    server = PingServer()
    yield server
    server.stop()


def _config(folder: Path, remote: str, monitor: str, extra: str = "") -> Path:
    path = folder / "snapexport.toml"
    path.write_text(
        f"""
[site]
settings = "{SETTINGS}"

[snapshot]
tags = ["nightly"]

[store]
location = "store"

[retention]
keep_daily = 2
keep_tags = ["keep"]

[prune]
every = "2d"

[check]
slices = 3
{extra}
[[copy]]
name = "offsite"
store = "{remote}"
init = true

[monitor]
healthchecks = "{monitor}/hc"
uptime_kuma = "{monitor}/kuma"
ping_timeout = 5
status_file = "state/status.json"
metrics_file = "metrics/snapexport.prom"
"""
    )
    return path


def _run(site: Path, config: Path, night: str) -> tuple[int, dict, str]:
    done = cli("run", "--config", config, "--json", site=site, SNAPEXPORT_NOW=night)
    return done.returncode, json.loads(done.stdout), done.stderr


def _ids(store: str | Path) -> list[str]:
    done = cli("snapshots", "--store", store, "--json")
    assert done.returncode == 0, done.stderr
    return [s["id"] for s in json.loads(done.stdout)]


def test_several_nights(
    site: Path, store: Path, tmp_path: Path, s3: dict, pings: PingServer
) -> None:
    config = _config(tmp_path, s3["STORE"], pings.url)
    for i, night in enumerate(NIGHTS):
        if i:
            generate("night", site, "--seed", str(20 + i))
        code, out, err = _run(site, config, night)
        assert code == 0, err
        steps = out["steps"]
        expected = {"snapshot", "forget", "check", "copy:offsite"} | (
            {"prune"} if i % 2 == 0 else set()
        )
        assert set(steps) == expected
        assert all(s["outcome"] == "ok" for s in steps.values()), steps
        assert steps["check"]["figures"]["slice"] == i % 3 + 1
        hits = pings.take()
        assert [(h.method, h.path) for h in hits[:1]] == [("POST", "/hc/start")]
        assert ("POST", "/hc") in [(h.method, h.path) for h in hits]
        success = next(h for h in hits if h.path == "/hc")
        assert success.body.startswith("run ok") and "copy:offsite ok" in success.body
        kuma = [h for h in hits if h.path.startswith("/kuma")]
        assert len(kuma) == 1 and "status=up" in kuma[0].path

    # retention: two daily snapshots kept on both stores, and they are the same snapshots
    primary = _ids(store)
    assert len(primary) == 2
    assert sorted(_ids(s3["STORE"])) == sorted(primary)
    for sid in primary:
        assert materialized(store, sid, tmp_path / f"p-{sid[:8]}") == materialized(
            s3["STORE"], sid, tmp_path / f"c-{sid[:8]}"
        )

    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["run"]["exit_code"] == 0 and status["run"]["outcome"] == "ok"
    assert status["steps"]["snapshot"]["figures"]["documents"] > 0
    assert status["steps"]["copy:offsite"]["figures"]["snapshots_copied"] == 1
    assert status["steps"]["prune"]["finished"].startswith("2026-03-04")  # not due on the 5th
    metrics = (tmp_path / "metrics" / "snapexport.prom").read_text()
    assert 'snapexport_step_success{step="copy:offsite"} 1' in metrics
    assert "snapexport_run_exit_code 0" in metrics
    assert 'snapexport_step_bytes_stored{step="snapshot"}' in metrics
    assert (tmp_path / "metrics" / "snapexport.prom").stat().st_mode & 0o777 == 0o644


def test_a_failing_step_pings_fail_and_the_rest_still_runs(
    site: Path, store: Path, tmp_path: Path, pings: PingServer
) -> None:
    not_a_store = tmp_path / "file"
    not_a_store.write_text("x")
    extra = f'[[copy]]\nname = "broken"\nstore = "{not_a_store}"\n'
    good = tmp_path / "good"
    config = _config(tmp_path, str(good), pings.url, extra)
    code, out, err = _run(site, config, NIGHTS[0])
    assert code == 1
    steps = out["steps"]
    assert steps["copy:broken"]["outcome"] == "failed"
    assert str(not_a_store) in steps["copy:broken"]["message"]
    assert steps["copy:offsite"]["outcome"] == "ok"  # the next target still got its copy
    assert steps["check"]["outcome"] == "ok"
    assert "copy:broken" in err
    hits = pings.take()
    fail = [h for h in hits if h.path == "/hc/fail"]
    assert len(fail) == 1 and "copy:broken failed" in fail[0].body
    assert str(not_a_store) in fail[0].body
    assert any("status=down" in h.path for h in hits)
    assert not [h for h in hits if h.path == "/hc"]
    assert _ids(good) == _ids(store)
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["steps"]["copy:broken"]["outcome"] == "failed"
    metrics = (tmp_path / "metrics" / "snapexport.prom").read_text()
    assert 'snapexport_step_success{step="copy:broken"} 0' in metrics
    assert "snapexport_run_exit_code 1" in metrics


def test_a_monitor_that_is_down_does_not_fail_the_backup(
    site: Path, store: Path, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed once the block ends
    config = _config(tmp_path, str(tmp_path / "copy"), dead)
    code, out, err = _run(site, config, NIGHTS[0])
    assert code == 0
    assert "monitor: ping to 127.0.0.1" in err and "the run went on" in err
    assert out["warnings"]
    assert len(_ids(store)) == 1
