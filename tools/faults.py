"""Fault campaign: kill -9 every writer (and materialize) at random moments, then prove the
store whole. Not part of CI (it runs for hours at the full count); docs/reliability.md has
its last report.

    python tools/faults.py --work /tmp/campaign [--documents 2000] [--kills 50] [--seed 1]
                           [--commands snapshot,materialize,materialize-zip,forget,prune,
                                       rebuild-catalog,repair] [--report report.md]

On a demo site of ``--documents`` documents (a night of changes before every snapshot) each
command is started, killed with SIGKILL after a random delay between 0 and the duration of
an unkilled run of it (measured first, then the previous round's rerun), and then:

1. ``check --read-data`` must find no damage (it may repair what a crash leaves: temporary
   files, orphan packs; those repairs are counted);
2. the newest snapshot, and every snapshot at the last round of each command, must
   materialize byte for byte as it did when it was made (sha256 of every file);
3. the same command run again must succeed;
4. nothing may be left over: no temporary file in the store (``tmp/``, ``*.tmp``), no
   reader or writer file in ``locks/``, no ``.snapexport-*.tmp``/``*.zip.tmp``/
   ``manifest.json.tmp`` in a materialize target.

Every failure is printed and counted; the exit code is 1 when any check failed. The report
(Markdown) lists per command the kills, how many landed before the run finished, repairs,
failures and the seconds spent.

The full count takes hours, so the campaign keeps its state in ``WORK/state.json`` (written
by temp name and rename after every round): ``--resume`` with the same ``--work`` continues
where an interrupted run stopped, with the same site, store, random sequence and tallies.
A round interrupted with the campaign itself is lost and run again; whatever it left in the
store is then just one more crash for the next round's checks.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SETTINGS = "snapexport.demo.settings"
ALL_COMMANDS = (
    "snapshot", "materialize", "materialize-zip", "forget", "prune", "rebuild-catalog", "repair",
)  # fmt: skip


@dataclass
class Tally:
    kills: int = 0
    finished_first: int = 0  # the run ended before the kill arrived
    repairs: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Campaign:
    def __init__(self, work: Path, documents: int, seed: int) -> None:
        self.work = work
        self.seed = seed
        self.results: dict[str, Tally] = {}
        self.site = work / "site"
        self.store = work / "store"
        self.rng = random.Random(seed)
        self.documents = documents
        self.night = 0
        self.references: dict[str, dict[str, str]] = {}  # snapshot id -> path -> sha256
        self.env = {k: v for k, v in os.environ.items() if k != "SNAPEXPORT_FAULT"}
        self.env["SNAPEXPORT_DEMO_DIR"] = str(self.site)
        self.durations: dict[str, float] = {}

    # -- state, for --resume ------------------------------------------------------------

    def save(self) -> None:
        state = {
            "documents": self.documents, "seed": self.seed, "night": self.night,
            "rng": _jsonable(self.rng.getstate()), "references": self.references,
            "durations": self.durations,
            "results": {n: dataclasses.asdict(t) for n, t in self.results.items()},
        }  # fmt: skip
        temp = self.work / "state.json.tmp"
        temp.write_text(json.dumps(state))
        os.replace(temp, self.work / "state.json")

    def load(self) -> None:
        path = self.work / "state.json"
        if not path.exists():
            raise SystemExit(f"{path}: no campaign to resume; run without --resume to start one")
        state = json.loads(path.read_text())
        if (state["documents"], state["seed"]) != (self.documents, self.seed):
            raise SystemExit(
                f"{path}: that campaign has --documents {state['documents']} --seed"
                f" {state['seed']}; pass the same values to resume it"
            )
        self.night = state["night"]
        self.rng.setstate(_tupled(state["rng"]))
        self.references = state["references"]
        self.durations = state["durations"]
        self.results = {n: Tally(**t) for n, t in state["results"].items()}

    # -- running the CLI ---------------------------------------------------------------

    def popen(self, *args: str | Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "snapexport", *map(str, args)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, env=self.env,
        )  # fmt: skip

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "snapexport", *map(str, args)],
            capture_output=True, text=True, env=self.env, stdin=subprocess.DEVNULL,
            timeout=3600,
        )  # fmt: skip

    def ok(self, *args: str | Path) -> str:
        done = self.run(*args)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, args))}: exit {done.returncode}: {done.stderr}")
        return done.stdout

    def generate(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "snapexport.demo.generate", *args],
            check=True, capture_output=True, env=self.env,
        )  # fmt: skip

    # -- the store's story -------------------------------------------------------------

    def setup(self) -> None:
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        self.generate("create", str(self.site), "--documents", str(self.documents))
        self.ok("init", "--store", self.store)
        self.new_snapshot()
        self.new_snapshot()
        self.save()

    def snapshot_args(self) -> tuple[str | Path, ...]:
        return ("snapshot", "--store", self.store, "--settings", SETTINGS)

    def next_night(self) -> None:
        self.night += 1
        self.generate("night", str(self.site), "--seed", str(self.night))

    def new_snapshot(self) -> None:
        """A night of changes, an unkilled snapshot, and its reference hashes."""
        self.next_night()
        self.ok(*self.snapshot_args())
        self.remember_new()

    def remember_new(self) -> None:
        for sid in self.ids():
            if sid not in self.references:
                self.references[sid] = self.hashes_of(sid)

    def ids(self) -> list[str]:
        return [s["id"] for s in json.loads(self.ok("snapshots", "--store", self.store, "--json"))]

    def hashes_of(self, sid: str, *flags: str) -> dict[str, str]:
        target = self.work / "verify"
        shutil.rmtree(target, ignore_errors=True)
        self.ok("materialize", "--store", self.store, *flags, sid, target)
        out = _tree_hashes(target)
        shutil.rmtree(target)
        return out

    # -- checks --------------------------------------------------------------------------

    def verify(self, tally: Tally, *, all_snapshots: bool) -> None:
        done = self.run("check", "--store", self.store, "--read-data")
        tally.repairs += done.stdout.count("repaired:")
        if done.returncode != 0 or "no problems found" not in done.stdout:
            tally.failures.append(f"check --read-data: exit {done.returncode}: {done.stderr}")
        ids = self.ids()
        for sid in ids if all_snapshots else ids[-1:]:
            if sid not in self.references:
                # A run killed after its commit: its snapshot is whole (check said so);
                # from now on it must keep materializing as it does now.
                self.references[sid] = self.hashes_of(sid)
                continue
            if self.hashes_of(sid) != self.references[sid]:
                tally.failures.append(f"snapshot {sid[:8]} no longer materializes identically")
        for sid in set(self.references) - set(ids):
            del self.references[sid]  # forgotten on purpose

    def leftovers(self, tally: Tally, target: Path | None = None) -> None:
        found = [p for p in (self.store / "tmp").glob("*")] if (self.store / "tmp").is_dir() else []
        found += [p for p in self.store.rglob("*.tmp")]
        found += list((self.store / "locks" / "readers").glob("*"))
        if (self.store / "locks" / "writer.json").exists():
            found.append(self.store / "locks" / "writer.json")
        if target is not None and target.exists():
            found += [p for p in target.rglob("*") if _temp_name(p.name)]
        if found:
            tally.failures.append("leftovers: " + ", ".join(str(p) for p in found[:5]))

    # -- one kill ------------------------------------------------------------------------

    def kill_round(self, name: str, args: tuple[str | Path, ...], tally: Tally) -> None:
        proc = self.popen(*args)
        delay = self.rng.uniform(0, self.durations.get(name, 5.0))
        try:
            proc.wait(timeout=delay)
            tally.finished_first += 1
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        tally.kills += 1

    def measure(self, name: str, prepare: Callable[[], tuple[str | Path, ...]]) -> None:
        args = prepare()
        started = time.monotonic()
        done = self.run(*args)
        self.durations[name] = time.monotonic() - started
        if done.returncode not in (0, 3):
            raise RuntimeError(f"{name}: exit {done.returncode}: {done.stderr}")
        self.remember_new()

    def campaign(self, name: str, kills: int) -> Tally:
        tally = self.results.setdefault(name, Tally())
        prepare, target = self.plan(name)
        if name not in self.durations:
            self.measure(name, prepare)
            self.save()
        for i in range(tally.kills, kills):
            started = time.monotonic()
            args = prepare()
            self.kill_round(name, args, tally)
            last = i == kills - 1
            self.verify(tally, all_snapshots=last)
            rerun_started = time.monotonic()
            done = self.run(*args)  # the rerun
            # The next kill's moment is drawn from this unkilled run's duration: the first
            # measure alone drifts from the truth as the store grows and the load changes.
            self.durations[name] = time.monotonic() - rerun_started
            if done.returncode not in (0, 3) or (done.returncode == 3 and name != "snapshot"):
                tally.failures.append(f"rerun of {name}: exit {done.returncode}: {done.stderr}")
            self.remember_new()
            if target is not None:
                self.check_target(name, target, tally)
            self.leftovers(tally, target)
            tally.seconds += time.monotonic() - started
            self.save()
            print(f"{name} {i + 1}/{kills}: {len(tally.failures)} failure(s)", flush=True)
        return tally

    def check_target(self, name: str, target: Path, tally: Tally) -> None:
        sid = self.ids()[-1]
        if name == "materialize":
            if _tree_hashes(target) != self.references[sid]:
                tally.failures.append("the rerun's folder export differs from the reference")
        else:
            done = self.run("diff", "--store", self.store, sid, target / "export.zip")
            if done.returncode != 0:
                tally.failures.append(f"the rerun's zip differs: {done.stdout[:300]}")

    def plan(self, name: str) -> tuple[Callable[[], tuple[str | Path, ...]], Path | None]:
        store = self.store
        target = self.work / f"target-{name}"
        if name == "snapshot":

            def snap() -> tuple[str | Path, ...]:
                self.next_night()
                return self.snapshot_args()

            return snap, None
        if name in ("materialize", "materialize-zip"):
            flags = ("--zip", "--zip-name", "export") if name == "materialize-zip" else ()

            def materialize() -> tuple[str | Path, ...]:
                shutil.rmtree(target, ignore_errors=True)  # each kill lands in a fresh run
                return ("materialize", "--store", store, *flags, "latest", target)

            return materialize, target
        if name == "forget":

            def forget() -> tuple[str | Path, ...]:
                self.new_snapshot()
                return ("forget", "--store", store, "--keep-last", "3")

            return forget, None
        if name == "prune":

            def prune() -> tuple[str | Path, ...]:
                self.new_snapshot()
                return ("prune", "--store", store, "--keep-last", "2", "--max-unused", "0")

            return prune, None
        if name == "rebuild-catalog":
            return lambda: ("rebuild-catalog", "--store", store), None
        if name == "repair":
            return lambda: ("repair", "--store", store), None
        raise SystemExit(f"unknown command {name}")


def _jsonable(state: object) -> object:
    return [_jsonable(x) for x in state] if isinstance(state, tuple) else state


def _tupled(state: object) -> object:
    return tuple(_tupled(x) for x in state) if isinstance(state, list) else state


def _temp_name(name: str) -> bool:
    return name.endswith(".tmp") or (name.startswith(".snapexport-") and name.endswith(".tmp"))


def _tree_hashes(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            if p.suffix == ".zip":
                out[p.relative_to(folder).as_posix()] = _zip_digest(p)
            else:
                out[p.relative_to(folder).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _zip_digest(path: Path) -> str:
    """A zip's entries (names and CRCs): its JSON entries carry the time it was written."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        return hashlib.sha256(
            "\n".join(f"{i.filename} {i.CRC}" for i in z.infolist()).encode()
        ).hexdigest()


def new_store_modes(work: Path) -> list[tuple[str, str]]:
    """The permissions of a brand-new store after one snapshot (umask 022)."""
    store = work / "modes-store"
    shutil.rmtree(store, ignore_errors=True)
    env = {**os.environ, "SNAPEXPORT_DEMO_DIR": str(work / "site")}
    for args in (("init", "--store", store),
                 ("snapshot", "--store", store, "--settings", SETTINGS)):  # fmt: skip
        subprocess.run([sys.executable, "-m", "snapexport", *map(str, args)], check=True,
                       capture_output=True, env=env, umask=0o022)  # fmt: skip
    rows = []
    for p in [store, *sorted(store.rglob("*"))]:
        rel = p.relative_to(store).as_posix() or "."
        if p.parent.name in ("packs",) or p.parent.parent.name == "packs":
            rel = "packs/xx/<id>" if p.is_file() else "packs/xx"
        rows.append((rel, oct(p.stat().st_mode & 0o7777)))
    shutil.rmtree(store)
    return sorted(set(rows))


def bad_inputs(work: Path) -> list[tuple[str, int, str]]:
    """Run the CLI on bad input a user can give or meet; (command, exit code, stderr)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    site = work / "site"
    subprocess.run([sys.executable, "-m", "snapexport.demo.generate", "create", str(site),
                    "--documents", "5"], check=True, capture_output=True)  # fmt: skip
    env = {**os.environ, "SNAPEXPORT_DEMO_DIR": str(site), "SNAPEXPORT_SCRYPT_N": "1024"}
    env.pop("SNAPEXPORT_FAULT", None)
    rows: list[tuple[str, int, str]] = []

    def run(*args: str, shown: str | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "snapexport", *args], capture_output=True,
                              text=True, env={**env, **extra}, cwd=work)  # fmt: skip
        rows.append(
            (
                shown or "snapexport " + " ".join(args),
                done.returncode,
                done.stderr.strip().replace(str(work) + "/", "").replace("\n", " / "),
            )
        )
        return done

    def quiet(*args: str, **extra: str) -> None:
        subprocess.run([sys.executable, "-m", "snapexport", *args], check=True,
                       capture_output=True, env={**env, **extra}, cwd=work)  # fmt: skip

    (work / "file").write_text("x")
    (work / "full").mkdir()
    (work / "full" / "x").write_text("x")
    quiet("init", "--store", "store")
    quiet("snapshot", "--store", "store", "--settings", SETTINGS)
    run("snapshots", "--store", "nowhere")
    run("init", "--store", "full")
    run("init", "--store", "file")
    run("snapshots", "--store", "full")
    run("init", "--store", "store")
    run("materialize", "--store", "store", "deadbeef", "out")
    run("materialize", "--store", "store", "latest", "file")
    run("materialize", "--store", "store", "latest", "file/x")
    run("materialize", "--store", "store", "--zip", "--compare-checksums", "latest", "out")
    run("materialize", "--store", "store", "--zip", "--zip-name", "a/b", "latest", "out")
    run("diff", "--store", "store", "latest", "no-such-export")
    run("forget", "--store", "store")
    run("forget", "--store", "store", "--keep-last", "0")
    run("prune", "--store", "store", "--keep-last", "1", "--wait-lock", "soon")
    run("snapshot", "--store", "store", "--no-lock", "--settings", SETTINGS)
    run("snapshot", "--store", "store", "--settings", "no.such.settings")
    run("snapshots", "--store", "store", "--tag", "nope")
    quiet("init", "--store", "enc", "--encrypt", SNAPEXPORT_PASSWORD="right")
    run(
        "snapshots",
        "--store",
        "enc",
        SNAPEXPORT_PASSWORD="wrong",
        shown="SNAPEXPORT_PASSWORD=wrong snapexport snapshots --store enc",
    )
    config = work / "store" / "config"
    saved = config.read_bytes()
    doc = json.loads(saved)
    doc["version"] = 99
    config.write_text(json.dumps(doc))
    run("snapshots", "--store", "store", shown="snapexport snapshots (config version 99)")
    config.write_bytes(saved)
    catalog = work / "store" / "catalog.sqlite"
    kept = catalog.read_bytes()
    catalog.write_bytes(kept[:4096] + b"\x5a" * (len(kept) - 4096))
    run("snapshots", "--store", "store", shown="snapexport snapshots (catalog damaged)")
    catalog.unlink()
    run("snapshots", "--store", "store", shown="snapexport snapshots (catalog deleted)")
    catalog.write_bytes(kept)
    pack = max((p for p in (work / "store" / "packs").rglob("*") if p.is_file()),
               key=lambda p: p.stat().st_size)  # fmt: skip
    data = pack.read_bytes()
    pack.write_bytes(data[: len(data) // 2])
    run("check", "--store", "store", shown="snapexport check (a pack truncated)")
    pack.unlink()
    run("check", "--store", "store", shown="snapexport check (the pack deleted)")
    run("rebuild-catalog", "--store", "full")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--documents", type=int, default=2000)
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--commands", default=",".join(ALL_COMMANDS))
    ap.add_argument("--report", type=Path)
    ap.add_argument("--resume", action="store_true", help="Continue the campaign in --work.")
    ap.add_argument("--bad-inputs", action="store_true", help="Only the table of bad inputs.")
    args = ap.parse_args()
    if args.bad_inputs:
        table = ["| command | exit | stderr |", "|---|---|---|"]
        for cmd, code, err in bad_inputs(args.work):
            table.append(f"| `{cmd}` | {code} | {err.replace('|', '/')} |")
        text = "\n".join(table) + "\n"
        print(text)
        if args.report:
            args.report.write_text(text)
        return 0
    c = Campaign(args.work, args.documents, args.seed)
    if args.resume:
        c.load()
    else:
        c.setup()
    for name in args.commands.split(","):
        c.campaign(name, args.kills)
    results = c.results
    modes = new_store_modes(args.work)
    lines = [
        f"Fault campaign: {args.documents} documents, {args.kills} kills per command,"
        f" seed {args.seed}.",
        "",
        "| command | kills | finished before the kill | repairs by check | failures | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for name, t in results.items():
        lines.append(f"| {name} | {t.kills} | {t.finished_first} | {t.repairs} |"
                     f" {len(t.failures)} | {t.seconds:.0f} |")  # fmt: skip
    lines += ["", "Permissions of a new store (umask 022):", "", "| path | mode |", "|---|---|"]
    lines += [f"| `{p}` | {m} |" for p, m in modes]
    failures = [f"{n}: {f}" for n, t in results.items() for f in t.failures]
    if failures:
        lines += ["", "Failures:", ""] + [f"- {f}" for f in failures]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        args.report.write_text(text)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
