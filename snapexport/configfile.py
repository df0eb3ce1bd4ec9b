"""The TOML config file: one place for the site, the store, copy targets, retention,
the rolling check and monitoring.

Found as ``--config PATH``, else ``$SNAPEXPORT_CONFIG``, else ``snapexport.toml`` in the
folder that holds the store (the store from ``--store``/``$SNAPEXPORT_STORE`` when it is a
folder, else the current folder). Every command reads it; its flags (and environment
variables) override it. ``KEYS`` below is the whole schema: validation, the effective
settings and docs/usage.md's key table all come from it (a test keeps them in step).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapexport.errors import RequestError

CONFIG_ENV = "SNAPEXPORT_CONFIG"
CONFIG_NAME = "snapexport.toml"
PROFILES = ("auto", "paperless", "django")
SCHEDULES = {"daily": "1d", "weekly": "7d", "monthly": "30d"}


@dataclass(frozen=True, slots=True)
class Key:
    """One config key: its TOML type, and whether it holds a secret's source."""

    kind: type | tuple[type, ...]
    help: str
    list_of: type | None = None  # for list keys: the item type
    secret: bool = False
    choices: tuple[str, ...] = ()
    path: bool = False  # a file or store location: relative to the config file's folder


def _url(help_text: str) -> Key:
    """A monitor URL: its path is a secret token, so only its host is ever shown."""
    return Key(str, help_text, secret=True)


_PASSWORD_KEYS = {
    "password_file": Key(str, "file holding the store's password (encrypted stores)", path=True),
    "password_env": Key(str, "name of an environment variable holding the password"),
}

#: section -> key -> Key. ``copy`` is an array of tables, one per target.
KEYS: dict[str, dict[str, Key]] = {
    "site": {
        "settings": Key(str, "the site's Django settings module"),
        "pythonpath": Key(str, "a folder added to sys.path first", path=True),
        "profile": Key(str, "what to read: auto, paperless or django", choices=PROFILES),
        "include": Key(list, "django profile: apps or app.Model to include", list_of=str),
        "exclude": Key(list, "django profile: apps or app.Model to exclude", list_of=str),
        "natural_keys": Key(bool, "django profile: natural foreign and primary keys"),
        "extra_folders": Key(list, "django profile: storage folders to back up too", list_of=str),
    },
    "snapshot": {
        "tags": Key(list, "tags every snapshot gets", list_of=str),
        "strict": Key(bool, "a missing file fails the snapshot instead of exit 3"),
    },
    "store": {
        "location": Key(str, "the store: a folder or s3://bucket/prefix", path=True),
        **_PASSWORD_KEYS,
    },
    "copy": {
        "name": Key(str, "the target's name (copy --to NAME, the status file)"),
        "store": Key(str, "the target store: a folder or s3://bucket/prefix", path=True),
        **_PASSWORD_KEYS,
        "init": Key(bool, "create the target on first use (with the source's parameters)"),
        "encrypt": Key(bool, "with init: create it encrypted"),
    },
    "retention": {
        "keep_last": Key(int, "keep the N newest snapshots"),
        "keep_hourly": Key(int, "newest of each of N hours"),
        "keep_daily": Key(int, "newest of each of N days"),
        "keep_weekly": Key(int, "newest of each of N weeks"),
        "keep_monthly": Key(int, "newest of each of N months"),
        "keep_yearly": Key(int, "newest of each of N years"),
        "keep_within": Key(str, "keep all within this duration of the newest (30d)"),
        "keep_tags": Key(list, "keep snapshots carrying any of these tags", list_of=str),
    },
    "prune": {
        "every": Key(str, "run prune this often: daily, weekly, monthly or a duration (10d)"),
        "max_unused": Key((int, float), "repack packs whose unused share exceeds this (0-1)"),
    },
    "check": {
        "slices": Key(int, "read 1/N of the packs each run, the next slice each time (0: off)"),
    },
    "monitor": {
        "healthchecks": _url("a Healthchecks ping URL (/start, success, /fail)"),
        "uptime_kuma": _url("an Uptime Kuma push URL (status=up / down, msg)"),
        "ping_start": _url("URL to POST to when a run starts"),
        "ping_success": _url("URL to POST the summary to when a run succeeds"),
        "ping_fail": _url("URL to POST the error to when a run fails"),
        "ping_timeout": Key((int, float), "seconds each ping may take (default 10)"),
        "status_file": Key(
            str, "JSON file: each step's last run, outcome, duration, sizes", path=True
        ),
        "metrics_file": Key(
            str, "Prometheus text file for node_exporter's textfile collector", path=True
        ),
    },
}


@dataclass(frozen=True, slots=True)
class Config:
    """A validated config file (or none: every section empty)."""

    path: Path | None
    data: Mapping[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        return dict(value) if isinstance(value, dict) else {}

    @property
    def targets(self) -> list[dict[str, Any]]:
        return [dict(t) for t in self.data.get("copy", [])]

    def target(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.targets if t.get("name") == name), None)

    def resolve(self, value: str) -> str:
        """A path in the file, relative to the file's folder (URLs and absolute paths as is)."""
        if self.path is None or "://" in value or os.path.isabs(value):
            return value
        return str(self.path.parent / value)

    def effective(self) -> dict[str, Any]:
        """Every setting in force, secrets' sources named but never their values."""
        out: dict[str, Any] = {}
        for name, keys in KEYS.items():
            if name == "copy":
                out["copy"] = [self._visible(t, keys) for t in self.targets]
            elif name in self.data:
                out[name] = self._visible(self.section(name), keys)
        return out

    def _visible(self, values: Mapping[str, Any], keys: Mapping[str, Key]) -> dict[str, Any]:
        out = {}
        for k, v in values.items():
            spec = keys[k]
            out[k] = _hidden(v) if spec.secret else self.resolve(v) if spec.path else v
        return out


def _hidden(url: str) -> str:
    """A ping URL's scheme and host only: its path is the check's secret token."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/(secret)"


def find(explicit: str | os.PathLike[str] | None, store: str | None) -> Path | None:
    """Which config file applies (None: none)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    location = store or os.environ.get("SNAPEXPORT_STORE")
    if location and "://" not in location:
        beside = Path(location).absolute().parent / CONFIG_NAME
        if beside.is_file():
            return beside
    here = Path(CONFIG_NAME)
    return here if here.is_file() else None


def load(path: Path | None) -> Config:
    """Read and validate ``path``; RequestError names the key and the problem in one line."""
    if path is None:
        return Config(None)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise RequestError(f"config file {path} does not exist") from None
    except OSError as err:
        raise RequestError(f"cannot read config file {path}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise RequestError(f"{path}: not valid TOML: {err}") from None
    validate(data, str(path))
    return Config(Path(path).absolute(), data)


def validate(data: Mapping[str, Any], where: str) -> None:
    for name, value in data.items():
        keys = KEYS.get(name)
        if keys is None:
            raise RequestError(f"{where}: unknown section [{name}] (known: {', '.join(KEYS)})")
        if name == "copy":
            if not isinstance(value, list):
                raise RequestError(f"{where}: copy targets are [[copy]] tables")
            names: set[str] = set()
            for i, target in enumerate(value):
                label = f"copy[{i}]"
                _check_table(target, keys, f"{where}: {label}")
                for required in ("name", "store"):
                    if required not in target:
                        raise RequestError(f"{where}: {label}.{required} is missing")
                if target["name"] in names:
                    raise RequestError(f"{where}: {label}.name {target['name']!r} is used twice")
                names.add(target["name"])
            continue
        _check_table(value, keys, f"{where}: {name}")
    _check_values(data, where)


def _check_table(value: Any, keys: Mapping[str, Key], label: str) -> None:
    if not isinstance(value, dict):
        raise RequestError(f"{label} must be a table")
    for key, item in value.items():
        spec = keys.get(key)
        if spec is None:
            raise RequestError(f"{label}.{key}: unknown key (known: {', '.join(keys)})")
        if isinstance(item, bool) and spec.kind is not bool:
            raise RequestError(f"{label}.{key}: expected {_kind(spec)}, got a boolean")
        if not isinstance(item, spec.kind):
            raise RequestError(f"{label}.{key}: expected {_kind(spec)}, got {type(item).__name__}")
        if spec.list_of is not None and not all(isinstance(x, spec.list_of) for x in item):
            raise RequestError(f"{label}.{key}: expected a list of {spec.list_of.__name__}s")
        if spec.choices and item not in spec.choices:
            raise RequestError(f"{label}.{key}: {item!r} is not one of {', '.join(spec.choices)}")
        if spec.kind is int and item < 0:
            raise RequestError(f"{label}.{key}: must not be negative")


def _kind(spec: Key) -> str:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "a list"}  # fmt: skip
    return " or ".join(names[k] for k in kinds)


def _check_values(data: Mapping[str, Any], where: str) -> None:
    from snapexport.policy import parse_duration

    retention = data.get("retention", {})
    if "keep_within" in retention:
        _parsed(parse_duration, retention["keep_within"], f"{where}: retention.keep_within")
    prune = data.get("prune", {})
    if "every" in prune:
        _parsed(parse_duration, SCHEDULES.get(prune["every"], prune["every"]),
                f"{where}: prune.every")  # fmt: skip
    if "max_unused" in prune and not 0 <= prune["max_unused"] <= 1:
        raise RequestError(f"{where}: prune.max_unused must be between 0 and 1")
    timeout = data.get("monitor", {}).get("ping_timeout")
    if timeout is not None and not 0 < timeout <= 120:
        raise RequestError(f"{where}: monitor.ping_timeout must be above 0 and at most 120")
    for section in ("store", *(f"copy[{i}]" for i in range(len(data.get("copy", []))))):
        table = data.get("store", {}) if section == "store" else data["copy"][int(section[5:-1])]
        if "password_file" in table and "password_env" in table:
            raise RequestError(f"{where}: {section}: give password_file or password_env, not both")
    for key in ("healthchecks", "uptime_kuma", "ping_start", "ping_success", "ping_fail"):
        url = data.get("monitor", {}).get(key)
        if url is not None and not url.startswith(("http://", "https://")):
            raise RequestError(f"{where}: monitor.{key}: {url!r} is not an http(s) URL")


def _parsed(parse: Any, value: str, label: str) -> None:
    try:
        parse(value)
    except RequestError as err:
        raise RequestError(f"{label}: {err}") from None


def password_from(table: Mapping[str, Any], config: Config) -> str | None:
    """The password a ``store`` or ``copy`` table points at (None: it names none)."""
    if "password_env" in table:
        name = table["password_env"]
        if name not in os.environ:
            raise RequestError(f"the environment variable {name} (password_env) is not set")
        return os.environ[name]
    if "password_file" in table:
        path = config.resolve(table["password_file"])
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as err:
            raise RequestError(f"cannot read the password file {path}: {err.strerror}") from None
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """A copy target: from a ``[[copy]]`` table, or a location given on the command line."""

    name: str
    location: str
    password: str | None = None
    init: bool = False
    encrypt: bool = False


def target(config: Config, name_or_location: str) -> Target:
    """The ``[[copy]]`` target named so, else the location itself (no password, no init)."""
    table = config.target(name_or_location)
    if table is None:
        return Target(name_or_location, name_or_location)
    return Target(
        name=table["name"],
        location=config.resolve(table["store"]),
        password=password_from(table, config),
        init=bool(table.get("init", False)),
        encrypt=bool(table.get("encrypt", False)),
    )
