"""The config file: found where documented, validated in one line, overridden by flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from snapexport import configfile
from snapexport.errors import UsageError
from tests.sitetools import cli


def _load(tmp_path: Path, text: str) -> configfile.Config:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return configfile.load(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[stor]\n", "unknown section [stor]"),
        ("[store]\nlocaton = 'x'\n", "store.locaton: unknown key"),
        ("[retention]\nkeep_daily = '7'\n", "retention.keep_daily: expected an integer, got str"),
        ("[retention]\nkeep_daily = true\n", "retention.keep_daily: expected an integer"),
        ("[retention]\nkeep_within = 'soon'\n", "retention.keep_within: invalid duration"),
        ("[prune]\nevery = 'fortnightly'\n", "prune.every: invalid duration"),
        ("[prune]\nmax_unused = 2\n", "prune.max_unused must be between 0 and 1"),
        ("[site]\nprofile = 'rails'\n", "site.profile: 'rails' is not one of"),
        ("[site]\ninclude = ['a', 1]\n", "site.include: expected a list of strs"),
        ("[[copy]]\nstore = 'x'\n", "copy[0].name is missing"),
        ("[[copy]]\nname='a'\nstore='x'\n[[copy]]\nname='a'\nstore='y'\n", "used twice"),
        ("[copy]\nname = 'a'\n", "copy targets are [[copy]] tables"),
        ("[monitor]\nhealthchecks = 'hc-ping.com/x'\n", "is not an http(s) URL"),
        ("[monitor]\nping_timeout = 0\n", "ping_timeout must be above 0"),
        ("[store]\npassword_file='a'\npassword_env='B'\n", "not both"),
        ("[store\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        _load(tmp_path, text)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(tmp_path / "c.toml") in str(err.value)


def test_config_check_cli(tmp_path: Path) -> None:
    path = tmp_path / "snapexport.toml"
    path.write_text(
        "[store]\nlocation = 'store'\npassword_file = 'secret'\n"
        "[monitor]\nhealthchecks = 'https://hc-ping.com/5f2d8a3e-private-uuid'\n"
    )
    done = cli("config", "check", "--config", path, "--json")
    assert done.returncode == 0, done.stderr
    settings = json.loads(done.stdout)
    assert settings["store"]["location"] == str(tmp_path / "store")
    assert settings["store"]["password_file"] == str(tmp_path / "secret")
    assert "private-uuid" not in done.stdout
    assert settings["monitor"]["healthchecks"] == "https://hc-ping.com/(secret)"
    path.write_text("[retention]\nkeep_daily = -1\n")
    bad = cli("config", "check", "--config", path)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"snapexport: error: {path}: retention.keep_daily: must not be negative"
    ]
    none = cli("config", "check", SNAPEXPORT_CONFIG=str(tmp_path / "nowhere.toml"))
    assert none.returncode == 2 and "nowhere.toml does not exist" in none.stderr


def test_found_beside_the_store_and_flags_win(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert cli("init", "--store", tmp_path / "a" / "store").returncode == 0
    assert cli("init", "--store", tmp_path / "b").returncode == 0
    (tmp_path / "a" / "snapexport.toml").write_text("[store]\nlocation = 'store'\n")
    # beside the store named by SNAPEXPORT_STORE, and by --store
    by_env = cli("config", "check", "--json", SNAPEXPORT_STORE=str(tmp_path / "a" / "store"))
    assert by_env.returncode == 0, by_env.stderr
    by_flag = cli("config", "check", "--json", "--store", tmp_path / "a" / "store")
    assert json.loads(by_flag.stdout)["config"] == str(tmp_path / "a" / "snapexport.toml")
    # the file's location is the default; --store overrides it
    cfg = tmp_path / "a" / "snapexport.toml"
    listed = cli("snapshots", "--config", cfg, "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    other = cli("snapshots", "--config", cfg, "--store", tmp_path / "nope")
    assert other.returncode == 1 and "nope" in other.stderr
    env = cli("snapshots", SNAPEXPORT_CONFIG=str(cfg))
    assert env.returncode == 0, env.stderr


def test_the_config_feeds_snapshot_forget_and_copy_targets(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "[site]\nsettings = 's'\npythonpath = 'src'\nextra_folders = ['x']\n"
        "[snapshot]\ntags = ['n']\n[retention]\nkeep_daily = 7\n[prune]\nmax_unused = 0.2\n"
        "[[copy]]\nname = 'usb'\nstore = 'usb-store'\npassword_env = 'USB_PW'\ninit = true\n",
    )
    from snapexport.cli import defaults_for

    snap = defaults_for("snapshot", config)
    assert snap["settings"] == "s" and snap["pythonpath"] == str(tmp_path / "src")
    assert snap["extra_folder"] == ["x"] and snap["tags"] == ["n"]
    assert defaults_for("prune", config)["max_unused"] == 0.2
    assert defaults_for("forget", config)["keep_daily"] == 7
    with pytest.raises(UsageError, match="USB_PW"):
        configfile.target(config, "usb")
    import os

    os.environ["USB_PW"] = "pw"
    try:
        t = configfile.target(config, "usb")
    finally:
        del os.environ["USB_PW"]
    assert (t.location, t.password, t.init) == (str(tmp_path / "usb-store"), "pw", True)
    assert configfile.target(config, "/elsewhere").location == "/elsewhere"


def test_forget_with_named_snapshots_ignores_the_files_policy(tmp_path: Path) -> None:
    assert cli("init", "--store", tmp_path / "store").returncode == 0
    cfg = tmp_path / "snapexport.toml"
    cfg.write_text("[store]\nlocation = 'store'\n[retention]\nkeep_last = 1\n")
    named = cli("forget", "--config", cfg, "--dry-run", "abcd")
    assert named.returncode == 2 and "no snapshot matches 'abcd'" in named.stderr
    by_policy = cli("forget", "--config", cfg, "--dry-run", "--json")
    assert by_policy.returncode == 0, by_policy.stderr
