"""``snapexport copy`` end to end: the real CLI, a demo site, several stores."""

from __future__ import annotations

import json
from pathlib import Path

from tests.sitetools import cli, generate, snapshot, tree
from tests.sitetools import ok as _ok


def _ids(store: str | Path, **env: str) -> list[str]:
    return [s["id"] for s in json.loads(_ok("snapshots", "--store", store, "--json", **env))]


def materialized(store: str | Path, snap: str, out: Path, *args: str, **env: str) -> dict:
    """The bytes ``materialize`` writes (an incomplete snapshot, exit 3, says so: the
    missing files' lines are part of what must match)."""
    out.mkdir(parents=True)
    done = cli("materialize", "--store", store, snap, out, *args, **env)
    assert done.returncode in (0, 3), f"{done.stdout}{done.stderr}"
    return {**tree(out), "(missing)": done.stderr.encode(), "(code)": bytes([done.returncode])}


def same_everywhere(a: str | Path, b: str | Path, tmp: Path, env_b: dict | None = None) -> None:
    """Every snapshot of ``a`` is in ``b`` and materializes to the same bytes there."""
    env_b = env_b or {}
    ids = _ids(a)
    assert ids and set(ids) <= set(_ids(b, **env_b))
    for i, sid in enumerate(ids):
        mine = materialized(a, sid, tmp / f"a{i}")
        theirs = materialized(b, sid, tmp / f"b{i}", **env_b)
        assert mine == theirs and mine


def _copy(src: str | Path, dst: str | Path, *args: str, **env: str) -> dict:
    return json.loads(_ok("copy", "--store", src, "--to", dst, "--json", *args, **env))


def test_copy_sends_only_what_the_target_lacks(site: Path, store: Path, tmp_path: Path) -> None:
    assert snapshot(store, site).returncode == 0
    generate("night", site, "--seed", "1")
    assert snapshot(store, site, "--tag", "nightly").returncode == 0
    target = tmp_path / "target"

    first = _copy(store, target, "--init")
    assert first["copied"] == 2 and first["present"] == 0 and first["shared_ids"] is True
    # the second snapshot found every unchanged document in the target: not read again
    second_snap = first["snapshots"][1]
    assert second_snap["files_skipped"] > second_snap["files_read"]
    same_everywhere(store, target, tmp_path / "m1")
    listed = {s["id"]: s for s in json.loads(_ok("snapshots", "--store", target, "--json"))}
    original = {s["id"]: s for s in json.loads(_ok("snapshots", "--store", store, "--json"))}
    for sid, s in original.items():
        assert (listed[sid]["time"], listed[sid]["tags"], listed[sid]["host"]) == (
            s["time"], s["tags"], s["host"],
        )  # fmt: skip

    again = _copy(store, target)
    assert (again["copied"], again["present"], again["bytes_stored"]) == (0, 2, 0)

    generate("night", site, "--seed", "2")
    added = json.loads(snapshot(store, site, "--json").stdout.splitlines()[-1])["bytes_stored"]
    third = _copy(store, target)
    assert third["copied"] == 1
    # a night's copy costs about what the night cost the primary, not the site
    assert third["bytes_stored"] <= added + 4096
    assert third["snapshots"][-1]["bytes_read"] <= added * 4 + 65536
    same_everywhere(store, target, tmp_path / "m2")
    _ok("check", "--store", target, "--read-data")


def test_copy_named_snapshots_and_by_tag(site: Path, store: Path, tmp_path: Path) -> None:
    assert snapshot(store, site, "--tag", "a").returncode == 0
    generate("night", site, "--seed", "3")
    assert snapshot(store, site, "--tag", "b").returncode == 0
    target = tmp_path / "t"
    assert _copy(store, target, "--init", "--tag", "b")["copied"] == 1
    assert len(_ids(target)) == 1
    assert _copy(store, target, "latest~1")["copied"] == 1
    # copied out of order: the target's latest (by time) is still the newest snapshot
    assert _ids(store)[-1] == json.loads(_ok("snapshots", "--store", target, "--json"))[0]["id"]
    same_everywhere(store, target, tmp_path / "m")
    mine = materialized(store, "latest", tmp_path / "la")
    assert mine == materialized(target, "latest", tmp_path / "lb")


def test_plain_to_encrypted_with_the_password_from_a_file(
    site: Path, store: Path, tmp_path: Path
) -> None:
    assert snapshot(store, site).returncode == 0
    secret = tmp_path / "pw"
    secret.write_text("target secret\n")
    target = tmp_path / "enc"
    env = {"SNAPEXPORT_SCRYPT_N": "1024"}
    out = _copy(store, target, "--init", "--encrypt", "--to-password-file", str(secret), **env)
    assert out["copied"] == 1 and out["shared_ids"] is False
    opened = {"SNAPEXPORT_PASSWORD": "target secret"}
    same_everywhere(store, target, tmp_path / "m", opened)
    # and back, with the target password from the environment
    back = tmp_path / "back"
    _ok("init", "--store", back)
    res = _copy(target, back, SNAPEXPORT_PASSWORD="target secret")
    assert res["copied"] == 1
    same_everywhere(store, back, tmp_path / "m2")
    wrong = cli("copy", "--store", store, "--to", target, SNAPEXPORT_TO_PASSWORD="nope")
    assert wrong.returncode == 1 and "wrong password" in wrong.stderr


def test_an_interrupted_copy_resumes(site: Path, store: Path, tmp_path: Path) -> None:
    assert snapshot(store, site).returncode == 0
    generate("night", site, "--seed", "4")
    assert snapshot(store, site).returncode == 0
    target = tmp_path / "t"
    _ok("init", "--store", target)
    killed = cli("copy", "--store", store, "--to", target,
                 SNAPEXPORT_FAULT="snapshot:before-commit=kill")  # fmt: skip
    assert killed.returncode == -9
    assert _ids(target) == []  # nothing half-copied is visible
    killed = cli("copy", "--store", store, "--to", target,
                 SNAPEXPORT_FAULT="copy:after-snapshot=kill")  # fmt: skip
    assert killed.returncode == -9
    assert len(_ids(target)) == 1
    resumed = _copy(store, target)
    assert (resumed["present"], resumed["copied"]) == (1, 1)
    same_everywhere(store, target, tmp_path / "m")
    _ok("check", "--store", target, "--read-data")


def test_bad_targets_name_the_problem(store: Path, tmp_path: Path) -> None:
    missing = cli("copy", "--store", store, "--to", tmp_path / "nowhere")
    assert missing.returncode == 1 and "nowhere" in missing.stderr
    assert "snapexport init" in missing.stderr
    same = cli("copy", "--store", store, "--to", store)
    assert same.returncode == 2 and "is the source store" in same.stderr


def test_local_to_s3_and_back(site: Path, store: Path, tmp_path: Path, s3: dict) -> None:
    assert snapshot(store, site).returncode == 0
    generate("night", site, "--seed", "5")
    assert snapshot(store, site).returncode == 0
    remote = s3["STORE"]
    out = _copy(store, remote, "--init")
    assert out["copied"] == 2
    same_everywhere(store, remote, tmp_path / "m")
    home = tmp_path / "home"
    _ok("init", "--store", home)
    assert _copy(remote, home)["copied"] == 2
    same_everywhere(store, home, tmp_path / "m2")
    _ok("check", "--store", remote, "--read-data")


def test_the_target_lock_holds(site: Path, store: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    assert snapshot(store, site).returncode == 0
    target = tmp_path / "t"
    _ok("init", "--store", target)
    helper = Path(__file__).resolve().parents[1] / "store" / "helpers" / "hold_lock.py"
    holder = subprocess.Popen([sys.executable, str(helper), str(target), "write"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = cli("copy", "--store", store, "--to", target)
        assert refused.returncode == 1 and f"pid {holder.pid}" in refused.stderr
    finally:
        holder.kill()
        holder.wait()
    assert _ids(target) == []
    assert _copy(store, target)["copied"] == 1


def test_an_incomplete_snapshot_copies_as_incomplete(
    site: Path, store: Path, tmp_path: Path
) -> None:
    victim = next(p for p in sorted((site / "media").rglob("*.pdf")) if "originals" in str(p))
    victim.unlink()
    assert snapshot(store, site).returncode == 3
    target = tmp_path / "t"
    out = _copy(store, target, "--init")
    assert out["copied"] == 1 and out["snapshots"][0]["complete"] is False
    listed = json.loads(_ok("snapshots", "--store", target, "--json"))
    assert listed[0]["complete"] is False
    same_everywhere(store, target, tmp_path / "m")
    written = materialized(target, "latest", tmp_path / "again")
    assert written["(code)"] == b"\x03" and b"(No such file or directory)" in written["(missing)"]
