"""``snapexport run``: snapshot, forget, prune when due, a rolling check, copy to each target.

Each step runs on its own: one that fails is recorded and the independent steps after it
still run (a copy target that is down does not stop the check; a failed snapshot still
lets retention and the copies of earlier snapshots happen). The run's exit code is the
worst step's (1 error > 2 usage > 3 incomplete > 0). Monitors hear of the start and of the
outcome (``monitor.py``); a monitor that is down only adds a warning.

The moment a run depicts is "now", or ``$SNAPEXPORT_NOW`` (an ISO time) when set: the
snapshot's time, retention and "is prune due" all read this one clock, which is how tests
(and back-fills) simulate several nights.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from snapexport.catalog.meta import MetaKey
from snapexport.configfile import SCHEDULES, Config, password_from, target
from snapexport.errors import (
    EXIT_ERROR,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_USAGE,
    RequestError,
    SnapexportError,
)
from snapexport.run import monitor

NOW_ENV = "SNAPEXPORT_NOW"
_SEVERITY = {EXIT_OK: 0, EXIT_INCOMPLETE: 1, EXIT_USAGE: 2, EXIT_ERROR: 3}


def now() -> datetime:
    """The run's clock: ``$SNAPEXPORT_NOW`` when set, else the current time (UTC)."""
    text = os.environ.get(NOW_ENV)
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RequestError(f"{NOW_ENV}={text!r} is not an ISO date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(slots=True)
class Step:
    """One step's outcome: 'ok', 'incomplete', 'failed' or 'skipped'."""

    name: str
    outcome: str = "ok"
    exit_code: int = EXIT_OK
    message: str = ""
    seconds: float = 0.0
    finished: datetime | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "message": self.message,
            "seconds": round(self.seconds, 3),
            "figures": self.figures,
        }
        if self.finished is not None:
            out["finished"] = self.finished.isoformat()
            out["finished_unix"] = self.finished.timestamp()
        return out


@dataclass(slots=True)
class RunResult:
    """What one ``run`` did, step by step."""

    started: datetime
    steps: list[Step] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        codes = [s.exit_code for s in self.steps] or [EXIT_OK]
        return max(codes, key=lambda c: _SEVERITY.get(c, 4))

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def summary_line(self) -> str:
        parts = []
        for s in self.steps:
            text = f"{s.name} {s.outcome}"
            if s.message and s.outcome != "ok":
                text += f" ({s.message})"
            elif s.message:
                text += f": {s.message}"
            parts.append(text)
        verdict = "ok" if self.ok else f"exit {self.exit_code}"
        return f"run {verdict} in {self.seconds:.1f}s: " + "; ".join(parts)

    def errors(self) -> str:
        return "\n".join(
            f"{s.name}: {s.message}" for s in self.steps if s.outcome in ("failed", "incomplete")
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "started": self.started.isoformat(),
            "seconds": round(self.seconds, 3),
            "steps": {s.name: s.as_json() for s in self.steps},
            "warnings": list(self.warnings),
        }


def run_night(config: Config, store_location: str | None = None) -> RunResult:
    """One night: every configured step, then the monitors. Never raises for a step."""
    mon = config.section("monitor")
    timeout = float(mon.get("ping_timeout", monitor.DEFAULT_TIMEOUT))
    moment = now()
    result = RunResult(started=moment)
    began = time.monotonic()
    result.warnings += monitor.send(monitor.pings(mon, "start"), timeout)
    location = store_location or config.resolve(config.section("store").get("location", ""))
    try:
        if not location:
            raise SnapexportError("no store: set [store] location in the config, or --store")
        password = password_from(config.section("store"), config)
        night = _Night(config, location, password, moment)
        _step(result, "snapshot", night.snapshot)
        if night.policy is not None:
            _step(result, "forget", night.forget)
        if night.prune_due():
            _step(result, "prune", night.prune)
        slices = int(config.section("check").get("slices", 0))
        if slices:
            _step(result, "check", lambda s: night.check(s, slices))
        for table in config.targets:
            _step(result, f"copy:{table['name']}", lambda s, t=table: night.copy(s, t))
    except SnapexportError as err:
        result.steps.append(Step("run", "failed", err.exit_code, str(err), finished=now()))
    except KeyboardInterrupt:
        result.steps.append(Step("run", "failed", 130, "interrupted", finished=now()))
        _report(config, result, began)
        raise
    _report(config, result, began)
    return result


def _step(result: RunResult, name: str, body: Callable[[Step], None]) -> None:
    step = Step(name)
    started = time.monotonic()
    try:
        body(step)
    except SnapexportError as err:
        step.outcome, step.exit_code, step.message = "failed", err.exit_code, str(err)
    except Exception as err:  # the site's own stack, a bug: still only this step fails
        step.outcome, step.exit_code = "failed", EXIT_ERROR
        step.message = str(err) if isinstance(err, OSError) else f"{type(err).__name__}: {err}"
    step.seconds = time.monotonic() - started
    step.finished = now()
    result.steps.append(step)


def _report(config: Config, result: RunResult, began: float) -> None:
    """Status file, metrics file, and the final ping; their failures become warnings."""
    result.seconds = time.monotonic() - began
    mon = config.section("monitor")
    finished = now()
    run = {
        "started": result.started.isoformat(),
        "finished": finished.isoformat(),
        "finished_unix": finished.timestamp(),
        "seconds": round(result.seconds, 3),
        "exit_code": result.exit_code,
        "outcome": "ok" if result.ok else "failed",
        "summary": result.summary_line(),
    }
    status = Path(config.resolve(mon["status_file"])) if "status_file" in mon else None
    steps = monitor.last_runs(status, {s.name: s.as_json() for s in result.steps})
    for key, write in (
        ("status_file", lambda p: monitor.write_status(p, run, steps)),
        ("metrics_file", lambda p: monitor.write_metrics(p, monitor.metrics_text(run, steps))),
    ):
        if key in mon:
            path = Path(config.resolve(mon[key]))
            try:
                write(path)
            except OSError as err:
                result.warnings.append(f"monitor: cannot write {key} {path}: {err.strerror}")
    timeout = float(mon.get("ping_timeout", monitor.DEFAULT_TIMEOUT))
    event, body = ("success", result.summary_line()) if result.ok else ("fail", "")
    if not result.ok:
        body = result.summary_line() + "\n" + result.errors()
    result.warnings += monitor.send(monitor.pings(mon, event, body), timeout)


class _Night:
    """The steps of one run against one store."""

    def __init__(self, config: Config, location: str, password: str | None, moment: datetime):
        from snapexport.policy import Policy, parse_duration

        self.config, self.location, self.password, self.moment = (
            config, location, password, moment,
        )  # fmt: skip
        r = config.section("retention")
        policy = Policy(
            keep_last=r.get("keep_last", 0), keep_hourly=r.get("keep_hourly", 0),
            keep_daily=r.get("keep_daily", 0), keep_weekly=r.get("keep_weekly", 0),
            keep_monthly=r.get("keep_monthly", 0), keep_yearly=r.get("keep_yearly", 0),
            keep_within=parse_duration(r["keep_within"]) if "keep_within" in r else None,
            keep_tags=tuple(r.get("keep_tags", ())),
        )  # fmt: skip
        self.policy = None if policy.is_empty() else policy
        self._pruned = False

    def _open(self, location: str | None = None, password: str | None = None, **kw: Any) -> Any:
        from snapexport.store import Store

        if location is None:
            location, password = self.location, self.password
        return Store.open(location, password=password, **kw)

    def snapshot(self, step: Step) -> None:
        from snapexport.run.site import site_source
        from snapexport.snapshot import SnapshotOptions, take_snapshot

        snap = self.config.section("snapshot")
        source = site_source(self.config)
        options = SnapshotOptions(
            tags=tuple(snap.get("tags", ())), strict=bool(snap.get("strict", False)),
            time=self.moment,
        )  # fmt: skip
        with self._open(write=True) as store:
            r = take_snapshot(store, source, options)
        step.figures = {
            "files_read": r.files_read, "files_skipped": r.files_skipped,
            "bytes_read": r.bytes_read, "bytes_stored": r.bytes_stored,
            "documents": int(r.meta.stats.get("documents", 0)),
            "records": int(r.meta.stats.get("records", 0)),
            "logical_bytes": int(r.meta.stats.get("logical_bytes", 0)),
            "missing_files": len(r.missing),
        }  # fmt: skip
        step.message = f"{r.meta.short_id}, stored {r.bytes_stored / 1e6:.1f} MB"
        if r.missing:
            names = ", ".join(m.path for m in r.missing[:3])
            step.outcome, step.exit_code = "incomplete", EXIT_INCOMPLETE
            step.message = f"{r.meta.short_id}: {len(r.missing)} file(s) missing ({names})"

    def forget(self, step: Step) -> None:
        from snapexport.prune import plan_policy, run_prune

        with self._open(write=True) as store:
            plan = plan_policy(store.catalog, self.policy)  # type: ignore[arg-type]
            run_prune(store, plan, collect=False)
        step.figures = {"snapshots_kept": len(plan.keep), "snapshots_removed": len(plan.remove)}
        step.message = f"{len(plan.keep)} kept, {len(plan.remove)} removed"

    def prune_due(self) -> bool:
        from snapexport.policy import parse_duration

        if "prune" not in self.config.data:
            return False
        every = self.config.section("prune").get("every")
        if every is None:
            return True
        try:
            with self._open() as store:
                last = store.catalog.get_meta(MetaKey.RUN_LAST_PRUNE)
        except SnapexportError:
            return True  # the prune step then names the problem
        if last is None:
            return True
        return self.moment - datetime.fromisoformat(last) >= parse_duration(
            SCHEDULES.get(every, every)
        )

    def prune(self, step: Step) -> None:
        from snapexport.prune import run_prune

        max_unused = float(self.config.section("prune").get("max_unused", 0.10))
        with self._open(write=True) as store:
            report = run_prune(store, None, collect=True, max_unused=max_unused)
            with store.catalog.transaction():
                store.catalog.set_meta(MetaKey.RUN_LAST_PRUNE, self.moment.isoformat())
        self._pruned = True
        freed = int(report.store.get("bytes_freed", 0))
        step.figures = {"bytes_freed": freed, "packs_deleted": report.store.get("packs_deleted", 0)}
        step.message = f"freed {freed / 1e6:.1f} MB"

    def check(self, step: Step, slices: int) -> None:
        from snapexport.errors import CorruptionError
        from snapexport.run.check_slice import check_slice, next_slice

        with self._open(write=True) as store:
            n = next_slice(store, slices)
            report = check_slice(store, n, slices)
        step.figures = {"slice": n, "slices": slices, "bytes_read": report.bytes_read,
                        "problems": len(report.problems), "packs": report.packs,
                        "packs_read": report.packs_read}  # fmt: skip
        step.message = f"slice {n}/{slices}, {report.bytes_read / 1e6:.1f} MB read"
        if report.problems:
            raise CorruptionError(
                f"slice {n}/{slices}: {len(report.problems)} problem(s): {report.problems[0]}"
            )

    def copy(self, step: Step, table: dict[str, Any]) -> None:
        from snapexport.copy import copy_snapshots
        from snapexport.prune import plan_policy, run_prune

        t = target(self.config, table["name"])
        result = copy_snapshots(
            self.location, t.location, password=t.password, init=t.init, encrypt=t.encrypt
        )
        removed = 0
        if self.policy is not None:
            # The target keeps what the primary keeps: the same policy over the same
            # snapshots (and frees space when the primary did tonight).
            with self._open(t.location, t.password, write=True) as store:
                plan = plan_policy(store.catalog, self.policy)  # type: ignore[arg-type]
                run_prune(store, plan, collect=self._pruned)
                removed = len(plan.remove)
        step.figures = {
            "snapshots_copied": result.copied,
            "bytes_read": result.bytes_read,
            "bytes_stored": result.bytes_stored,
            "snapshots_removed": removed,
        }
        step.message = f"{result.copied} copied, stored {result.bytes_stored / 1e6:.1f} MB"
