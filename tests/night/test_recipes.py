"""docs/nightly.md and docs/usage.md, executed: every TOML block passes ``config check``,
the cron, systemd and ``docker compose exec -T`` command lines run against a demo site,
and docs/usage.md's key table names exactly the keys the code knows, with their types."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snapexport.configfile import KEYS
from tests.sitetools import SETTINGS, cli, env_for

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOCUMENTED_CONFIG = ("/etc/snapexport/snapexport.toml", "/usr/src/paperless/data/snapexport.toml")
TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list of strings"}


def blocks(doc: str, lang: str) -> list[str]:
    text = (DOCS / doc).read_text(encoding="utf-8")
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.M | re.S)


@pytest.mark.parametrize("doc", ["nightly.md", "usage.md"])
def test_every_config_example_passes_config_check(doc: str, tmp_path: Path) -> None:
    examples = blocks(doc, "toml")
    assert examples
    for i, text in enumerate(examples):
        path = tmp_path / f"{i}.toml"
        path.write_text(text)
        done = cli("config", "check", "--config", path, "--json")
        assert done.returncode == 0, f"{doc} example {i}: {done.stderr}"
        assert json.loads(done.stdout)["config"] == str(path)


def test_the_key_table_and_the_code_agree() -> None:
    text = (DOCS / "usage.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)\.(\w+)` \| ([a-z ]+) \|", text, flags=re.M)
    documented = {(s, k): t for s, k, t in rows}
    known = {}
    for section, keys in KEYS.items():
        for key, spec in keys.items():
            kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
            known[(section, key)] = "number" if float in kinds else TYPES[kinds[0]]
    assert documented == known


def _demo_config(site: Path, folder: Path) -> Path:
    path = folder / "demo.toml"
    path.write_text(
        f'[site]\nsettings = "{SETTINGS}"\n[store]\nlocation = "store"\n'
        "[retention]\nkeep_daily = 7\n[check]\nslices = 7\n"
        '[[copy]]\nname = "usb"\nstore = "usb.store"\ninit = true\n'
        '[monitor]\nstatus_file = "status.json"\n'
    )
    assert cli("init", "--store", folder / "store").returncode == 0
    return path


def _ids(store: Path) -> list[str]:
    done = cli("snapshots", "--store", store, "--json")
    assert done.returncode == 0, done.stderr
    return [s["id"] for s in json.loads(done.stdout)]


def _shell(command: str, site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = env_for(site)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["sh", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=600)  # fmt: skip


def _for_demo(command: str, config: Path, log: Path | None = None) -> str:
    for documented in DOCUMENTED_CONFIG:
        command = command.replace(documented, str(config))
    if log is not None:
        command = command.replace("/var/log/snapexport/run.jsonl", str(log))
    return command


def test_the_cron_lines_run(site: Path, tmp_path: Path) -> None:
    config = _demo_config(site, tmp_path)
    host, container = [b.strip() for b in blocks("nightly.md", "cron")]
    fields = host.split(None, 5)
    assert len(fields) == 6 and fields[:2] == ["30", "2"]
    log = tmp_path / "run.jsonl"
    done = _shell(_for_demo(fields[5], config, log), site, tmp_path)
    assert done.returncode == 0, done.stderr
    night = json.loads(log.read_text().splitlines()[-1])
    assert night["exit_code"] == 0 and set(night["steps"]) == {
        "snapshot", "forget", "check", "copy:usb",
    }  # fmt: skip
    # docker compose exec -T webserver COMMAND: COMMAND is what runs inside the container
    prefix, _, inside = container.split(None, 5)[5].partition(" exec -T webserver ")
    assert prefix.startswith("docker compose -f ") and inside.startswith("snapexport run")
    done = _shell(_for_demo(inside, config), site, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("run ok")
    # two runs on one day: keep_daily keeps the newest, on the store and on its copy alike
    assert _ids(tmp_path / "store") == _ids(tmp_path / "usb.store") != []


def test_the_systemd_units_run_and_verify(site: Path, tmp_path: Path) -> None:
    service, timer = blocks("nightly.md", "ini")
    assert "Nice=19" in service and "IOSchedulingClass=idle" in service
    assert "OnCalendar=" in timer and "Persistent=true" in timer
    exec_start = re.search(r"^ExecStart=(.*)$", service, flags=re.M)
    assert exec_start is not None
    binary = str(Path(sys.executable).parent / "snapexport")
    command = exec_start.group(1).replace("/usr/local/bin/snapexport", binary)
    config = _demo_config(site, tmp_path)
    done = _shell(_for_demo(command, config), site, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("run ok")
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["run"]["exit_code"] == 0
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: the units were run, not verified")
    units = tmp_path / "units"
    units.mkdir()
    (units / "snapexport.service").write_text(service.replace("/usr/local/bin/snapexport", binary))
    (units / "snapexport.timer").write_text(timer)
    verified = subprocess.run(
        ["systemd-analyze", "verify", "snapexport.service", "snapexport.timer"],
        cwd=units, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr
