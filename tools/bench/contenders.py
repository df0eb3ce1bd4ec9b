"""The tools under comparison, each driven as external programs on the same site.

* ``Snapexport``: snapshots into its store, materialize (zip and folder), diff, prune.
* ``Restic`` and ``Borg``: the habit "``document_exporter --data-only``, then back up the
  media folder and the manifest": nightly backups of ``media/documents`` + ``dump/``.
* ``FullExport``: the habit "``document_exporter --zip`` every night": a manifest dump and
  one ``zip -r -6`` of it and every current file, in one pass.

restic and borg are run as installed programs (Debian's packages); nothing of theirs is
imported or copied.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import datetime
from pathlib import Path

from benchsite import SETTINGS, BenchSite
from proc import Run, run, tree_bytes

HERE = Path(__file__).resolve().parent
DUMP = "dump"  # the data-only manifest's folder, inside the site folder
BACKED_UP = ("media/documents", DUMP)  # what restic and borg back up, relative to the site


class Snapexport:
    """snapexport's command line on the site (snapshots dated by ``snapclock.py``)."""

    name = "snapexport"

    def __init__(self, site: BenchSite, store: Path) -> None:
        self.site, self.store = site, store

    def _cli(self, *args: str, moment: datetime | None = None) -> Run:
        env = self.site.env()
        if moment is not None:
            env["SNAPEXPORT_BENCH_TIME"] = moment.isoformat()
        argv = [sys.executable, str(HERE / "snapclock.py"), *args]
        return run(argv, env=env)

    def init(self) -> Run:
        return self._cli("init", "--store", str(self.store))

    def backup(self, moment: datetime, *options: str) -> Run:
        """One snapshot of the site (the store sees the site's files and database)."""
        return self._cli(
            *("snapshot", "--store", str(self.store), "--settings", SETTINGS, "--json"),
            *options,
            moment=moment,
        )

    def materialize_zip(self, target: Path) -> Run:
        target.mkdir(parents=True, exist_ok=True)
        return self._cli("materialize", "--store", str(self.store), "--zip", "--json", str(target))

    def materialize_dir(self, target: Path) -> Run:
        target.mkdir(parents=True, exist_ok=True)  # the exporter wants an existing folder
        return self._cli("materialize", "--store", str(self.store), "--json", str(target))

    def diff(self) -> Run:
        return self._cli("diff", "--store", str(self.store), "latest~1", "latest")

    def prune(self, keep_daily: int) -> list[Run]:
        return [self._cli("prune", "--store", str(self.store), "--keep-daily", str(keep_daily))]

    def documents(self, verb: str, *args: str) -> Run:
        """One of the single-document commands (ls, find, history, restore, dump), --json."""
        return self._cli(verb, "--store", str(self.store), "--json", *args)

    def size(self) -> int:
        return tree_bytes(self.store)

    def snapshot_count(self) -> int:
        listed = self._cli("snapshots", "--store", str(self.store), "--json")
        return len(json.loads(listed.stdout))


class Restic:
    """restic (repository v2, its default ``auto`` compression), fixed password."""

    name = "restic"

    def __init__(self, site: BenchSite, repo: Path, cache: Path) -> None:
        self.site, self.repo, self.cache = site, repo, cache
        self.env = {
            "RESTIC_REPOSITORY": str(repo),
            "RESTIC_PASSWORD": "snapexport-bench",
            "RESTIC_CACHE_DIR": str(cache),
            "TZ": "UTC",
        }

    def _restic(self, *args: str, cwd: Path | None = None) -> Run:
        return run(["restic", *args], env=self.env, cwd=cwd)

    def init(self) -> Run:
        return self._restic("init", "--repository-version", "2")

    def backup(self, moment: datetime) -> Run:
        return self._restic(
            *("backup", "--quiet", "--host", "bench"),
            *("--time", moment.strftime("%Y-%m-%d %H:%M:%S")),
            *BACKED_UP,
            cwd=self.site.folder,
        )

    def restore(self, target: Path) -> Run:
        return self._restic("restore", "latest", "--target", str(target))

    def diff(self) -> Run:
        listed = json.loads(self._restic("snapshots", "--json").stdout)
        ids = [s["id"] for s in sorted(listed, key=lambda s: s["time"])]
        return self._restic("diff", ids[-2], ids[-1])

    def prune(self, keep_daily: int) -> list[Run]:
        return [self._restic("forget", "--keep-daily", str(keep_daily), "--prune")]

    def size(self) -> int:
        return tree_bytes(self.repo)


class Borg:
    """borg 1.x, ``--encryption none``, ``--compression zstd,3`` (or ``compression``: the
    first backup is also timed with ``lz4``, borg's cheapest)."""

    def __init__(
        self, site: BenchSite, repo: Path, home: Path, compression: str = "zstd,3"
    ) -> None:
        self.site, self.repo, self.home = site, repo, home
        self.compression = compression
        self.name = "borg" if compression == "zstd,3" else f"borg {compression}"
        self.env = {
            "BORG_REPO": str(repo),
            "BORG_BASE_DIR": str(home),
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
            "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
            "TZ": "UTC",
        }
        self.archives: list[str] = []

    def _borg(self, *args: str, cwd: Path | None = None) -> Run:
        return run(["borg", *args], env=self.env, cwd=cwd)

    def init(self) -> Run:
        return self._borg("init", "--encryption", "none")

    def backup(self, moment: datetime) -> Run:
        name = f"night-{len(self.archives):03}"
        done = self._borg(
            *("create", "--compression", self.compression),
            *("--timestamp", moment.strftime("%Y-%m-%dT%H:%M:%S")),
            f"::{name}",
            *BACKED_UP,
            cwd=self.site.folder,
        )
        self.archives.append(name)
        return done

    def restore(self, target: Path) -> Run:
        target.mkdir(parents=True, exist_ok=True)
        return self._borg("extract", f"::{self.archives[-1]}", cwd=target)

    def diff(self) -> Run:
        return self._borg("diff", f"::{self.archives[-2]}", self.archives[-1])

    def prune(self, keep_daily: int) -> list[Run]:
        # borg 1.2 frees space only in ``compact``: prune + compact is its "forget --prune".
        return [self._borg("prune", "--keep-daily", str(keep_daily)), self._borg("compact")]

    def size(self) -> int:
        return tree_bytes(self.repo)


class FullExport:
    """A full export every night: manifest dump + ``zip -r -6`` of it and all files."""

    name = "full export"

    def __init__(self, site: BenchSite) -> None:
        self.site = site

    def export(self, target: Path) -> tuple[Run, Run]:
        """Write one export zip at ``target``: the manifest dump, then one ``zip -r -6``.

        Two measured children: the zip on its own is also the ``zip -r -6`` limit of the
        same files (plus the manifest) that ``materialize --zip`` is held against.
        """
        staging = self.site.folder / "full-export"
        shutil.rmtree(staging, ignore_errors=True)
        dump = self.site.dump_data(staging / "manifest.json")
        zipped = run(
            ["zip", "-q", "-r", "-6", str(target), "full-export/manifest.json", "media/documents"],
            cwd=self.site.folder,
        )
        shutil.rmtree(staging)
        return dump, zipped
