"""Telling monitors how a run went: pings, a status file, Prometheus text-file metrics.

A monitor that is down never costs the backup: every ping has a short timeout and its
failure comes back as a warning for the run's output, never as an exception. The status
file and the metrics file are written atomically (temp name, fsync, rename), so a reader
never sees half a file.

Ping conventions:

* Healthchecks (``monitor.healthchecks = URL``): POST to ``URL/start`` when the run
  starts, to ``URL`` with the summary as the body on success, to ``URL/fail`` with the
  errors on failure.
* Uptime Kuma push monitors (``monitor.uptime_kuma = URL``): GET ``URL?status=up&msg=...``
  on success and ``status=down`` on failure (push monitors have no start signal).
* Plain URLs (``ping_start``, ``ping_success``, ``ping_fail``): POST with the summary or
  the errors as the body.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapexport.fsutil import atomic_write_bytes

DEFAULT_TIMEOUT = 10.0
_BODY_MAX = 10_000  # Healthchecks keeps the first 10 kB of a body


@dataclass(frozen=True, slots=True)
class Ping:
    """One request to make: ``method`` to ``url`` with ``body``."""

    url: str
    method: str = "POST"
    body: bytes | None = None


def pings(monitor: Mapping[str, Any], event: str, message: str = "") -> list[Ping]:
    """The requests ``monitor`` asks for at ``event`` ('start' | 'success' | 'fail')."""
    body = message.encode("utf-8")[:_BODY_MAX]
    out: list[Ping] = []
    hc = monitor.get("healthchecks")
    if hc:
        base = hc.rstrip("/")
        suffix = {"start": "/start", "success": "", "fail": "/fail"}[event]
        out.append(Ping(base + suffix, "POST", body))
    kuma = monitor.get("uptime_kuma")
    if kuma and event != "start":
        status = "up" if event == "success" else "down"
        query = urllib.parse.urlencode({"status": status, "msg": message[:250], "ping": ""})
        out.append(Ping(f"{kuma}{'&' if '?' in kuma else '?'}{query}", "GET"))
    plain = monitor.get(f"ping_{event}")
    if plain:
        out.append(Ping(plain, "POST", body))
    return out


def send(requests: Sequence[Ping], timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """Make each request; returns one warning per request that failed (never raises)."""
    warnings = []
    for p in requests:
        host = urllib.parse.urlsplit(p.url).netloc
        req = urllib.request.Request(p.url, data=p.body, method=p.method)
        req.add_header("User-Agent", "snapexport")
        if p.body is not None:
            req.add_header("Content-Type", "text/plain; charset=utf-8")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                resp.read(1024)
        except urllib.error.HTTPError as err:
            warnings.append(f"monitor: ping to {host} answered HTTP {err.code}; the run went on")
        except (OSError, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            warnings.append(f"monitor: ping to {host} failed ({reason}); the run went on")
    return warnings


def last_runs(path: Path | None, steps: Mapping[str, Any]) -> dict[str, Any]:
    """Each step's last run: this run's steps over those the status file remembers."""
    previous: dict[str, Any] = {}
    if path is not None:
        try:
            previous = dict(json.loads(path.read_text(encoding="utf-8")).get("steps", {}))
        except (OSError, ValueError, AttributeError, TypeError):
            previous = {}
    return {**previous, **steps}


def write_status(path: Path, run: Mapping[str, Any], merged: Mapping[str, Any]) -> None:
    """Replace the status file: this run, and each step's last run (``last_runs``)."""
    doc = {"version": 1, "run": dict(run), "steps": dict(merged)}
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), mode=0o600)


def _number(value: float) -> str:
    """Integers as integers, other numbers at full precision (timestamps keep their digits)."""
    as_float = float(value)
    return str(int(as_float)) if as_float.is_integer() else repr(as_float)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def metrics_text(run: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]]) -> str:
    """Prometheus text exposition of a run (node_exporter's textfile collector format)."""
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        if not samples:
            return
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {_number(value)}" for labels, value in samples)

    family(
        "snapexport_run_last_timestamp_seconds",
        "gauge",
        "When the last run finished (Unix time).",
        [("", run["finished_unix"])],
    )
    family(
        "snapexport_run_exit_code",
        "gauge",
        "The last run's exit code (0 ok, 3 incomplete).",
        [("", run["exit_code"])],
    )
    family("snapexport_run_duration_seconds", "gauge", "How long the last run took.",
           [("", run["seconds"])])  # fmt: skip
    ran = [(k, v) for k, v in steps.items() if v.get("outcome") != "skipped"]
    family(
        "snapexport_step_success",
        "gauge",
        "1 if the step's last run succeeded, else 0.",
        [(f'{{step="{_label(k)}"}}', 1.0 if v["outcome"] == "ok" else 0.0) for k, v in ran],
    )
    family(
        "snapexport_step_duration_seconds",
        "gauge",
        "How long the step's last run took.",
        [(f'{{step="{_label(k)}"}}', v["seconds"]) for k, v in ran],
    )
    family("snapexport_step_last_timestamp_seconds", "gauge", "When the step last ran.",
           [(f'{{step="{_label(k)}"}}', v["finished_unix"]) for k, v in ran])  # fmt: skip
    figures: dict[str, list[tuple[str, float]]] = {}
    for step, v in ran:
        for key, value in (v.get("figures") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                figures.setdefault(key, []).append((f'{{step="{_label(step)}"}}', value))
    for key, samples in sorted(figures.items()):
        family(f"snapexport_step_{key}", "gauge", f"The step's {key.replace('_', ' ')}.", samples)
    return "\n".join(lines) + "\n"


def write_metrics(path: Path, text: str) -> None:
    """Replace the metrics file atomically (readable by node_exporter: mode 0644)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode("utf-8"), mode=0o644)
