"""Copying snapshots into another store (local or S3, plain or encrypted).

A snapshot of the source store is replayed into the target through the ordinary snapshot
builder (``snapshot.take_snapshot``) with ``copy/stored.py`` as its source: the target
compares each record and file with its own current spans, stores only content it lacks,
and commits the snapshot in one transaction under its own lock, so the target's dedup,
crash safety and recovery hold unchanged. The copy keeps the snapshot's id, time, host,
tags and site facts; a snapshot whose id the target already holds is not copied again,
which is also how an interrupted copy resumes (the packs it had written are adopted by the
target's recovery and reused).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snapexport.catalog.replay import Replay
from snapexport.errors import RequestError, StoreError
from snapexport.faults import checkpoint
from snapexport.progress import NullReporter, Reporter
from snapexport.values import SnapshotMeta

if TYPE_CHECKING:
    from snapexport.store import Store

TARGET_PASSWORD_ENV = "SNAPEXPORT_TO_PASSWORD"
TARGET_PASSWORD_FILE_ENV = "SNAPEXPORT_TO_PASSWORD_FILE"


@dataclass(frozen=True, slots=True)
class CopiedSnapshot:
    """One snapshot the copy looked at."""

    id: str
    time: str
    state: str  # 'copied' | 'present' (the target already held it)
    complete: bool
    files_read: int = 0
    files_skipped: int = 0
    bytes_read: int = 0  # plain bytes read from the source store's blobs
    bytes_stored: int = 0  # bytes written to the target's packs
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "snapshot": self.id,
            "short_id": self.id[:8],
            "time": self.time,
            "state": self.state,
            "complete": self.complete,
            "files_read": self.files_read,
            "files_skipped": self.files_skipped,
            "bytes_read": self.bytes_read,
            "bytes_stored": self.bytes_stored,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What one ``copy`` did."""

    source: str
    target: str
    snapshots: tuple[CopiedSnapshot, ...]
    shared_ids: bool  # both stores name content alike: held blobs were not read
    seconds: float

    @property
    def copied(self) -> int:
        return sum(1 for s in self.snapshots if s.state == "copied")

    @property
    def present(self) -> int:
        return sum(1 for s in self.snapshots if s.state == "present")

    @property
    def bytes_stored(self) -> int:
        return sum(s.bytes_stored for s in self.snapshots)

    @property
    def bytes_read(self) -> int:
        return sum(s.bytes_read for s in self.snapshots)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "copied": self.copied,
            "present": self.present,
            "bytes_read": self.bytes_read,
            "bytes_stored": self.bytes_stored,
            "shared_ids": self.shared_ids,
            "seconds": round(self.seconds, 3),
            "snapshots": [s.as_json() for s in self.snapshots],
        }

    def summary_line(self) -> str:
        return (
            f"copied {self.copied} snapshot(s) to {self.target}"
            f" ({self.present} already there); read {self.bytes_read / 1e6:.1f} MB,"
            f" stored {self.bytes_stored / 1e6:.1f} MB in {self.seconds:.1f}s"
        )


def target_password(password_file: str | os.PathLike[str] | None = None) -> str | None:
    """The target store's password: ``password_file``, else SNAPEXPORT_TO_PASSWORD, else
    the file SNAPEXPORT_TO_PASSWORD_FILE names; None lets the target fall back to the
    source's password lookup (SNAPEXPORT_PASSWORD, --password-file)."""
    path = password_file or os.environ.get(TARGET_PASSWORD_FILE_ENV)
    if password_file is None and TARGET_PASSWORD_ENV in os.environ:
        return os.environ[TARGET_PASSWORD_ENV]
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as err:
            raise StoreError(
                f"cannot read the target's password file {path}: {err.strerror}"
            ) from None
    return None


def select(store: Store, specs: Sequence[str], *, tag: str | None = None) -> list[SnapshotMeta]:
    """The snapshots to copy, oldest first: those named, else all (with ``tag``, only those)."""
    found = store.catalog.snapshots
    if specs:
        chosen = {m.id: m for m in (found.resolve(s, tag=tag) for s in specs)}
        metas = list(chosen.values())
    else:
        metas = found.all(tag=tag)
    return sorted(metas, key=lambda m: (m.time, m.seq))


def shares_ids(source: Store, target: Store) -> bool:
    """Whether both stores give the same content the same blob id (unkeyed, or one key)."""
    a = source.master.ids if source.master is not None else None
    b = target.master.ids if target.master is not None else None
    return a == b and source.config.id_algorithm == target.config.id_algorithm


def copy_snapshots(
    source_location: str | Path,
    target_location: str | Path,
    specs: Sequence[str] = (),
    *,
    tag: str | None = None,
    password: str | None = None,
    init: bool = False,
    encrypt: bool = False,
    reporter: Reporter | None = None,
) -> CopyResult:
    """Copy snapshots of the source store that the target lacks, oldest first.

    ``password`` opens an encrypted target (default: the source's password lookup).
    ``init`` creates a missing target with the source's chunker, compression and pack
    parameters (``encrypt``: an encrypted one).
    """
    from snapexport.copy.stored import StoredSnapshotSource
    from snapexport.snapshot import SnapshotOptions, take_snapshot
    from snapexport.store import Store
    from snapexport.store.location import StoreLocation

    started = time.monotonic()
    src_loc, dst_loc = StoreLocation.parse(source_location), StoreLocation.parse(target_location)
    if str(src_loc) == str(dst_loc):
        raise RequestError(f"copy: the target {dst_loc} is the source store itself")
    reporter = reporter or NullReporter()
    done: list[CopiedSnapshot] = []
    with Store.open(source_location) as src:
        metas = select(src, specs, tag=tag)
        with _open_target(src, target_location, password, init=init, encrypt=encrypt) as dst:
            shared = shares_ids(src, dst)
            held = Replay(dst.catalog)
            for meta in metas:
                when = meta.time.isoformat()
                if held.has_snapshot(meta.id):
                    done.append(CopiedSnapshot(meta.id, when, "present", meta.complete))
                    continue
                options = SnapshotOptions(
                    tags=meta.tags, time=meta.time, host=meta.host, snapshot_id=meta.id
                )
                source = StoredSnapshotSource(src, meta, shared_ids=shared)
                r = take_snapshot(dst, source, options, reporter)
                copied = CopiedSnapshot(
                    meta.id, when, "copied", r.complete, r.files_read, r.files_skipped,
                    r.bytes_read, r.bytes_stored, r.seconds,
                )  # fmt: skip
                done.append(copied)
                checkpoint("copy:after-snapshot")
    return CopyResult(str(src_loc), str(dst_loc), tuple(done), shared, time.monotonic() - started)


def _open_target(src: Store, location: str | Path, password: str | None, *, init: bool,
                 encrypt: bool) -> Store:  # fmt: skip
    from snapexport.store import Store
    from snapexport.store.backend import open_backend
    from snapexport.store.config import CONFIG_FILE
    from snapexport.store.location import StoreLocation

    if init:
        loc = StoreLocation.parse(location)
        exists = (
            (loc.path / CONFIG_FILE).is_file()
            if loc.path is not None
            else open_backend(loc).stat(CONFIG_FILE) is not None
        )
        if not exists:
            c = src.config
            return Store.init(
                location, compression_level=c.compression_level, pack_size=c.pack_size,
                chunker=c.chunker, encrypt=encrypt, password=password,
            )  # fmt: skip
    return Store.open(location, write=True, password=password)
