"""Readers work beside a running snapshot and see the last committed state; writers that
delete wait for readers (--wait-lock) or are refused naming them; a read-only store is read
without a lock. Real CLI processes, held at SNAPEXPORT_FAULT pause points."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.sitetools import SETTINGS, cli, copy_case, env_for, generate, site_store_reference, tree
from tests.sitetools import ok as _ok


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = site_store_reference(tmp_path_factory.mktemp("readers"), 8)
    generate("night", base / "site", "--new-every", "2", "--edit-every", "2")
    return base


@pytest.fixture
def case(template: Path, tmp_path: Path) -> Path:
    return copy_case(template, tmp_path)


def _wait_reached(flag: Path, proc: subprocess.Popen[str]) -> None:
    """Until the process stands at its pause point (the fault hook creates FLAG.reached)."""
    reached = flag.with_name(flag.name + ".reached")
    deadline = time.monotonic() + 120
    while not reached.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "pause point not reached"
        time.sleep(0.02)


@contextmanager
def _paused(args: list[str | Path], point: str, tmp: Path, site: Path | None = None
            ) -> Iterator[subprocess.Popen[str]]:  # fmt: skip
    """A real CLI process held at ``point`` until the block ends; it must then succeed."""
    flag = tmp / f"go-{point.replace(':', '-')}"
    env = env_for(site, SNAPEXPORT_FAULT=f"{point}=pause:{flag}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "snapexport", *map(str, args)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_reached(flag, proc)
        yield proc
    finally:
        flag.touch()
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, f"{args}: {out}{err}"


def test_readers_work_while_a_snapshot_runs(case: Path) -> None:
    store = case / "store"
    before = json.loads(_ok("snapshots", "--store", store, "--json"))
    snap = ["snapshot", "--store", store, "--settings", SETTINGS]
    with _paused(snap, "snapshot:before-commit", case, site=case / "site"):
        # The snapshot has stored the night's files and not committed: readers see the
        # last committed state, whole.
        assert json.loads(_ok("snapshots", "--store", store, "--json")) == before
        _ok("materialize", "--store", store, "latest", case / "during")
        assert tree(case / "during") == tree(case / "reference")
        assert _ok("diff", "--store", store, "latest", case / "during") is not None
        _ok("stats", "--store", store)
        done = cli("check", "--store", store, "--read-data")
        assert done.returncode == 0, done.stderr
        assert "locked by a writer" in done.stderr and "without repairing" in done.stderr
        # A writer that deletes is refused, naming the snapshot's process ...
        done = cli("prune", "--store", store, "--keep-last", "1")
        assert done.returncode == 1 and "store is locked by a writer: pid" in done.stderr
        # ... or waits for it with --wait-lock.
        waiting = subprocess.Popen(
            [sys.executable, "-m", "snapexport", "prune", "--store", str(store),
             "--keep-last", "1", "--wait-lock", "5m", "--json"],
            env=env_for(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert len(json.loads(out)["remove"]) == 1  # it ran after the snapshot committed
    assert len(json.loads(_ok("snapshots", "--store", store, "--json"))) == 1
    assert "no problems found" in _ok("check", "--store", store, "--read-data")


def test_a_reader_keeps_prune_out_but_not_a_snapshot(case: Path) -> None:
    store = case / "store"
    reader = ["materialize", "--store", store, "latest", case / "slow"]
    with _paused(reader, "materialize:in-file", case) as proc:
        done = cli("prune", "--store", store, "--keep-last", "1")
        assert done.returncode == 1
        assert f"in use by 1 reader(s): pid {proc.pid}" in done.stderr
        _ok("snapshot", "--store", store, "--settings", SETTINGS, site=case / "site")
    assert tree(case / "slow") == tree(case / "reference")
    _ok("prune", "--store", store, "--keep-last", "1")


def test_wait_lock_gives_up_after_its_duration(case: Path) -> None:
    store = case / "store"
    reader = ["materialize", "--store", store, "latest", case / "slow"]
    with _paused(reader, "materialize:in-file", case):
        done = cli("prune", "--store", store, "--keep-last", "1", "--wait-lock", "1s")
        assert done.returncode == 1
        assert "in use by 1 reader(s)" in done.stderr and "waited 1 s" in done.stderr
        done = cli("prune", "--store", store, "--keep-last", "1", "--wait-lock", "soon")
        assert done.returncode == 2 and "give a duration" in done.stderr
    done = cli("snapshot", "--store", store, "--settings", SETTINGS, "--no-lock",
               site=case / "site")  # fmt: skip
    assert done.returncode == 2 and "only read" in done.stderr


_READ_ONLY = """
set -eu
mount --bind "$STORE" "$STORE"
mount -o remount,bind,ro "$STORE"
for cmd in snapshots stats check; do
  "$PY" -m snapexport $cmd --store "$STORE" > "$OUT/$cmd.out" 2> "$OUT/$cmd.err"
done
"$PY" -m snapexport materialize --store "$STORE" latest "$OUT/export" 2> "$OUT/materialize.err"
"$PY" -m snapexport diff --store "$STORE" latest "$OUT/export" > "$OUT/diff.out" 2>&1
set +e
"$PY" -m snapexport snapshot --store "$STORE" --settings "$SETTINGS" 2> "$OUT/snapshot.err"
echo $? > "$OUT/snapshot.rc"
"""


def test_a_read_only_store_is_read_without_a_lock(case: Path) -> None:
    store = case / "store"
    out = case / "out"
    out.mkdir()
    # A read-only bind mount of the store, in a private mount namespace.
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", _READ_ONLY],
        env=env_for(case / "site", STORE=str(store), OUT=str(out), PY=sys.executable,
                    SETTINGS=SETTINGS),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + "".join(
        f"\n{p.name}: {p.read_text()}" for p in sorted(out.glob("*.err"))
    )
    for cmd in ("snapshots", "stats", "check", "materialize"):
        assert "is read-only: reading it without a lock" in (out / f"{cmd}.err").read_text()
    assert "no problems found" in (out / "check.out").read_text()
    assert tree(out / "export") == tree(case / "reference")
    assert (out / "snapshot.rc").read_text().strip() == "1"
    line = (out / "snapshot.err").read_text().strip()
    assert len(line.splitlines()) == 1 and "read-only" in line, line
