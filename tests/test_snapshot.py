"""snapshot.py end to end: the real CLI on the demo site, as cron runs it (no TTY)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sitetools import cli, copy_site, generate, new_store, snapshot, sql

DOCS = 60


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template") / "site"
    generate("create", folder, "--documents", str(DOCS), "--seed", "7")
    return folder


@pytest.fixture
def site(template: Path, tmp_path: Path) -> Path:
    return copy_site(template, tmp_path / "site")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return new_store(tmp_path / "store")


def _json(done: object) -> dict:
    out = done.stdout  # type: ignore[attr-defined]
    return json.loads(out.strip().splitlines()[-1])


def _snapshots(store: Path) -> list[dict]:
    done = cli("snapshots", "--store", store, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _check(store: Path) -> None:
    done = cli("check", "--store", store, "--read-data")
    assert done.returncode == 0, done.stdout + done.stderr


def test_unchanged_site_costs_nothing_and_a_night_costs_its_changes(
    site: Path, store: Path
) -> None:
    first = snapshot(store, site, "--json")
    assert first.returncode == 0, first.stderr
    one = _json(first)
    assert one["documents"]["new"] >= DOCS and one["bytes_stored"] > 0
    blobs_before = json.loads(cli("stats", "--store", store, "--json").stdout)["blobs"]

    second = _json(snapshot(store, site, "--json"))
    assert second["bytes_read"] == 0 and second["files_read"] == 0
    assert second["records"] == {
        "new": 0,
        "changed": 0,
        "unchanged": second["records"]["unchanged"],
        "removed": 0,
    }
    assert second["bytes_stored"] < 0.01 * one["bytes_stored"]
    assert json.loads(cli("stats", "--store", store, "--json").stdout)["blobs"] == blobs_before

    generate("night", site, "--seed", "1")
    night = _json(snapshot(store, site, "--json"))
    changed = night["documents"]
    assert changed["new"] + changed["changed"] + changed["removed"] > 0
    # Only new or changed files are read, and only their content is stored.
    assert 0 < night["files_read"] < 0.2 * one["files_read"]
    assert night["bytes_stored"] <= night["bytes_read"]
    assert len(_snapshots(store)) == 3
    _check(store)


def test_verify_flags_agree_with_the_fast_paths(site: Path, store: Path) -> None:
    assert snapshot(store, site).returncode == 0
    generate("night", site, "--seed", "2")
    done = snapshot(store, site, "--verify-records", "--verify-files", "--json")
    assert done.returncode == 0, done.stderr
    summary = _json(done)
    assert summary["files_read"] > 0 and summary["files_skipped"] == 0


def test_a_file_whose_content_disagrees_with_its_checksum_is_reported(
    site: Path, store: Path
) -> None:
    assert snapshot(store, site).returncode == 0
    (name,) = sql(site, "SELECT filename FROM documents_document ORDER BY id LIMIT 1")[0]
    original = site / "media/documents/originals" / name
    st = original.stat()
    data = bytearray(original.read_bytes())
    data[-1] ^= 0xFF  # same size, same mtime: only --verify-files can notice
    original.write_bytes(bytes(data))
    os.utime(original, ns=(st.st_atime_ns, st.st_mtime_ns))
    quiet = snapshot(store, site, "--json")
    assert _json(quiet)["files_read"] == 0
    loud = snapshot(store, site, "--verify-files")
    assert loud.returncode == 0
    assert "does not match the database's sha256 checksum" in loud.stderr


def test_trusted_checksums_skip_the_check_and_say_so(site: Path, store: Path) -> None:
    """--trust-checksums: a rotten file is stored unreported (that is the trade), the JSON
    says the checksums were trusted, and --verify-files with it is a usage error."""
    (name,) = sql(site, "SELECT filename FROM documents_document ORDER BY id LIMIT 1")[0]
    original = site / "media/documents/originals" / name
    data = bytearray(original.read_bytes())
    data[-1] ^= 0xFF
    original.write_bytes(bytes(data))
    both = snapshot(store, site, "--trust-checksums", "--verify-files")
    assert both.returncode == 2
    assert both.stderr == (
        "snapexport: error: --verify-files checks every checksum; drop --trust-checksums\n"
    )
    trusted = snapshot(store, site, "--trust-checksums", "--json")
    assert trusted.returncode == 0, trusted.stderr
    summary = _json(trusted)
    assert summary["checksums"] == "trusted" and summary["warnings"] == []
    assert summary["files_read"] > 0
    checked = snapshot(store, site, "--verify-files", "--json")
    assert _json(checked)["checksums"] == "checked"
    assert any(f"{name}: content does not match" in w for w in _json(checked)["warnings"])


def test_missing_file_gives_an_incomplete_snapshot_and_exit_3(
    site: Path, store: Path, tmp_path: Path
) -> None:
    (name, pk) = sql(site, "SELECT filename, id FROM documents_document ORDER BY id LIMIT 1")[0]
    (site / "media/documents/originals" / name).unlink()

    strict = snapshot(store, site, "--strict")
    assert strict.returncode == 1
    assert "nothing was committed" in strict.stderr and len(strict.stderr.splitlines()) == 1
    assert _snapshots(store) == []

    done = snapshot(store, site)
    assert done.returncode == 3
    assert f"documents/originals/{name}" in done.stderr
    assert "INCOMPLETE" in done.stdout
    (listed,) = _snapshots(store)
    assert listed["complete"] is False

    out = tmp_path / "export"
    out.mkdir()
    mat = cli("materialize", "--store", store, out)
    assert mat.returncode == 3
    assert "missing" in mat.stderr
    assert (out / "manifest.json").is_file()
    del pk


def test_file_growing_while_read_is_recorded_missing(tmp_path: Path) -> None:
    """The builder notices a file that changes under it (a real file, appended mid-read)."""
    import contextlib

    from snapexport.snapshot import SnapshotOptions, take_snapshot
    from snapexport.source.base import FileRef, SiteInfo
    from snapexport.store import Store

    victim = tmp_path / "growing.bin"
    victim.write_bytes(os.urandom(3 << 20))

    class Growing:
        def __init__(self) -> None:
            self._f = open(victim, "rb")  # noqa: SIM115
            self._grown = False

        def read(self, n: int = -1) -> bytes:
            data = self._f.read(n)
            if not self._grown:  # another process appends while we read
                with open(victim, "ab") as g:
                    g.write(b"x" * 10)
                self._grown = True
            return data

        def fileno(self) -> int:
            return self._f.fileno()

        def __enter__(self) -> Growing:
            return self

        def __exit__(self, *exc: object) -> None:
            self._f.close()

    class OneFile:
        @contextlib.contextmanager
        def open(self) -> Iterator[None]:
            yield

        def info(self) -> SiteInfo:
            return SiteInfo("django", (), None, "UTC", {})

        def rows(self, model: str) -> Iterator:
            return iter(())

        def serialize(self, model: str, pks: object) -> Iterator:
            return iter(())

        def files(self) -> Iterator[FileRef]:
            yield FileRef("growing.bin", victim, "file", opener=Growing)

    with Store.init(tmp_path / "store") as store:
        result = take_snapshot(store, OneFile(), SnapshotOptions())  # type: ignore[arg-type]
    assert [(m.path, m.reason) for m in result.missing] == [
        ("growing.bin", "changed while being read")
    ]
    assert not result.meta.complete


def test_bad_settings_and_not_a_django_site(store: Path, tmp_path: Path) -> None:
    done = cli("snapshot", "--store", store, "--settings", "no.such.settings")
    assert done.returncode == 1
    assert "not importable" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = cli("snapshot", "--store", store, "--settings", "json")
    assert done.returncode == 1
    assert "not a Django site" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_kill_9_before_and_during_commit_leaves_no_snapshot(site: Path, store: Path) -> None:
    for point in ("snapshot:before-commit", "snapshot:in-commit", "snapshot:after-files"):
        killed = snapshot(store, site, SNAPEXPORT_FAULT=f"{point}=kill")
        assert killed.returncode == -9, killed.stderr
        assert _snapshots(store) == []
    _check(store)
    # The next run succeeds and reuses every chunk the killed runs stored.
    done = _json(snapshot(store, site, "--json"))
    assert done["bytes_read"] > 0 and done["bytes_stored"] == 0
    assert len(_snapshots(store)) == 1
    _check(store)


def test_ctrl_c_commits_nothing(site: Path, store: Path) -> None:
    done = snapshot(store, site, SNAPEXPORT_FAULT="snapshot:before-commit=interrupt")
    assert done.returncode == 130
    assert "interrupted" in done.stderr
    assert _snapshots(store) == []
    _check(store)
    assert snapshot(store, site).returncode == 0


def test_second_writer_is_refused_naming_the_holder(
    site: Path, store: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from tests.sitetools import env_for

    go = tmp_path / "go"
    env = env_for(site, SNAPEXPORT_FAULT=f"snapshot:after-records=pause:{go}")
    first = subprocess.Popen(
        [sys.executable, "-m", "snapexport", "snapshot", "--store", str(store), "--settings",
         "snapexport.demo.settings"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(go.with_name("go.reached"))
        second = snapshot(store, site)
        assert second.returncode == 1
        assert "lock" in second.stderr and str(first.pid) in second.stderr
    finally:
        go.touch()
        _out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert len(_snapshots(store)) == 1


def test_database_changes_during_the_run_are_not_seen(
    site: Path, store: Path, tmp_path: Path
) -> None:
    """One read transaction: a row committed mid-run belongs to the next snapshot."""
    import subprocess
    import sys

    from tests.sitetools import env_for

    go = tmp_path / "go"
    env = env_for(site, SNAPEXPORT_FAULT=f"snapshot:after-records=pause:{go}")
    run = subprocess.Popen(
        [sys.executable, "-m", "snapexport", "snapshot", "--store", str(store), "--settings",
         "snapexport.demo.settings", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait_for(go.with_name("go.reached"))
    before = sql(site, "SELECT count(*) FROM documents_correspondent")[0][0]
    writer = threading.Thread(
        target=sql,
        args=(site, "INSERT INTO documents_correspondent (name, match, matching_algorithm,"
              " is_insensitive, owner_id) VALUES ('Mid-run Ltd', '', 1, 1, NULL)"),
    )  # fmt: skip
    writer.start()
    time.sleep(0.5)
    go.touch()
    _out, err = run.communicate(timeout=120)
    writer.join(timeout=120)
    assert run.returncode == 0, err
    assert sql(site, "SELECT count(*) FROM documents_correspondent")[0][0] == before + 1
    follow = _json(snapshot(store, site, "--json"))
    assert follow["records"]["new"] == 1  # the correspondent, seen only now


def test_migration_change_is_announced(site: Path, store: Path) -> None:
    assert snapshot(store, site).returncode == 0
    sql(
        site,
        "INSERT INTO django_migrations (app, name, applied) VALUES"
        " ('documents', '9999_future', '2030-01-01 00:00:00')",
    )
    done = snapshot(store, site)
    assert done.returncode == 0
    assert "migrations changed" in done.stderr and "documents" in done.stderr


def test_snapshots_lists_counts_and_tags(site: Path, store: Path) -> None:
    assert snapshot(store, site, "--tag", "nightly", "--tag", "before-upgrade").returncode == 0
    (row,) = _snapshots(store)
    assert row["tags"] == ["nightly", "before-upgrade"]
    assert row["documents"] >= DOCS and row["files"] > DOCS and row["complete"] is True
    assert row["logical_bytes"] > 0 and row["bytes_added"] > 0
    text = cli("snapshots", "--store", store)
    assert row["short_id"] in text.stdout and "nightly" in text.stdout


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


def test_an_unmigrated_database_is_a_one_line_error(store: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-site"
    empty.mkdir()
    done = snapshot(store, empty)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "no such table" in done.stderr and "SNAPEXPORT_DEBUG" in done.stderr
    assert _snapshots(store) == []
