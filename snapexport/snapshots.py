"""Finding snapshots and reading one: the catalog-backed ``SnapshotView``.

Materialize and verify read snapshots only through this view; the SQL behind it lives in
``catalog/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from snapexport.catalog.content import BlobChunkRows
from snapexport.errors import RequestError
from snapexport.store import Store
from snapexport.values import MissingFile, SnapshotMeta, StoredFile, StoredRecord


class CatalogView:
    """One committed snapshot, read from a store's catalog and packs."""

    def __init__(self, store: Store, meta: SnapshotMeta) -> None:
        self.store = store
        self.meta = meta
        self._spans = store.catalog.spans
        # Where the chunks of the files the last ``files_of_many`` named are: their
        # ``read`` needs no query of its own. Replaced by the next batch (bounded).
        self._located: dict[bytes, BlobChunkRows] = {}

    def records(self, model: str) -> Iterator[StoredRecord]:
        return self._spans.records_of(self.meta.seq, model)

    def files_of(self, owner_model: str, owner_pk: str) -> dict[str, StoredFile]:
        return self._spans.files_of(self.meta.seq, owner_model, [owner_pk]).get(owner_pk, {})

    def files_of_many(
        self, owner_model: str, owner_pks: Sequence[str]
    ) -> dict[str, dict[str, StoredFile]]:
        owned = self._spans.files_of(self.meta.seq, owner_model, owner_pks)
        blobs = [f.blob for files in owned.values() for f in files.values()]
        self._located = self.store.locate_blobs(blobs)
        return owned

    def files(self) -> Iterator[StoredFile]:
        return self._spans.files(self.meta.seq)

    def missing(self) -> Iterator[MissingFile]:
        return self._spans.missing(self.meta.seq)

    def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
        return self.store.read_blob(f.blob, ahead=ahead, located=self._located)


def open_view(store: Store, spec: str = "latest", *, tag: str | None = None) -> CatalogView:
    """The snapshot a user named (id, unique prefix, ``latest``, ``latest~N``, ``--tag``)."""
    return CatalogView(store, store.catalog.snapshots.resolve(spec, tag=tag))


def list_snapshots(store: Store, *, tag: str | None = None) -> list[SnapshotMeta]:
    return store.catalog.snapshots.all(tag=tag)


@dataclass(frozen=True, slots=True)
class SnapshotList:
    """What ``snapexport snapshots`` lists: the snapshots, oldest commit first."""

    snapshots: tuple[SnapshotMeta, ...]
    freshness: Freshness | None = None  # with --max-age

    def as_json(self) -> list[dict[str, Any]] | dict[str, Any]:
        """A list; with ``--max-age`` an object: the freshness and ``snapshots``."""
        if self.freshness is not None:
            return {**self.freshness.as_json(), "snapshots": self._listed()}
        return self._listed()

    def _listed(self) -> list[dict[str, Any]]:
        return [
            {
                "id": m.id,
                "short_id": m.short_id,
                "time": m.time.isoformat(),
                "host": m.host,
                "profile": m.profile,
                "tags": list(m.tags),
                "complete": m.complete,
                "documents": m.stats.get("documents"),
                "records": m.stats.get("records"),
                "files": m.stats.get("files"),
                "logical_bytes": m.stats.get("logical_bytes"),
                "bytes_added": m.stats.get("bytes_added"),
            }
            for m in self.snapshots
        ]


def snapshots_in(
    store_location: str | Path, *, tag: str | None = None, max_age: str | None = None
) -> SnapshotList:
    """``snapexport snapshots``: the store's snapshots (only those with ``tag``, if given);
    with ``max_age`` (``26h``) also whether the newest complete one is younger."""
    limit = parse_max_age(max_age) if max_age is not None else None
    with Store.open(store_location) as store:
        fresh = freshness(store, limit, tag=tag) if limit is not None else None
        return SnapshotList(tuple(list_snapshots(store, tag=tag)), fresh)


_AGE = re.compile(r"(\d+)\s*(w|d|h|min|s)")


def parse_max_age(text: str) -> timedelta:
    """``26h``, ``1d``, ``90min``, ``1h30min``, ``0s``: weeks, days, hours, minutes, seconds."""
    spec = text.strip().replace(" ", "")
    parts = _AGE.findall(spec)
    if not spec or "".join(n + u for n, u in parts) != spec:
        raise RequestError(f"--max-age {text!r} is not a duration: use e.g. 26h, 1d, 90min, 0s")
    seconds = {"w": 604800, "d": 86400, "h": 3600, "min": 60, "s": 1}
    return timedelta(seconds=sum(int(n) * seconds[u] for n, u in parts))


@dataclass(frozen=True, slots=True)
class Freshness:
    """Whether the newest complete snapshot is younger than ``max_age`` (a dead man's switch)."""

    max_age: timedelta
    newest: SnapshotMeta | None
    age: timedelta | None

    @property
    def fresh(self) -> bool:
        return self.age is not None and self.age <= self.max_age

    def as_json(self) -> dict[str, Any]:
        return {
            "fresh": self.fresh,
            "max_age_seconds": self.max_age.total_seconds(),
            "newest_complete": self.newest.id if self.newest else None,
            "newest_complete_time": self.newest.time.isoformat() if self.newest else None,
            "age_seconds": self.age.total_seconds() if self.age is not None else None,
        }

    def summary(self) -> str:
        if self.newest is None or self.age is None:
            return "the store has no complete snapshot"
        state = "within" if self.fresh else "older than"
        return (
            f"newest complete snapshot {self.newest.short_id} is {_span(self.age)} old:"
            f" {state} --max-age {_span(self.max_age)}"
        )

    def problem(self) -> str | None:
        """One line for stderr when stale, else None."""
        if self.newest is None:
            return ("the store has no complete snapshot: check the nightly snapshot job"
                    " (its log, its exit code)")  # fmt: skip
        if self.fresh:
            return None
        assert self.age is not None
        return (
            f"the newest complete snapshot {self.newest.short_id} is {_span(self.age)} old,"
            f" older than --max-age {_span(self.max_age)}: check the nightly snapshot job"
        )


def freshness(
    store: Store, max_age: timedelta, *, tag: str | None = None, now: datetime | None = None
) -> Freshness:
    """How old the newest complete snapshot (with ``tag``) is, at ``now`` (default: now)."""
    complete = [m for m in store.catalog.snapshots.all(tag=tag) if m.complete]
    newest = max(complete, key=lambda m: (m.time, m.seq), default=None)
    moment = now or datetime.now(UTC)
    age = None if newest is None else max(moment - newest.time, timedelta(0))
    return Freshness(max_age, newest, age)


def _span(d: timedelta) -> str:
    total = int(d.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return "".join(parts) + (f"{seconds}s" if seconds or not parts else "")
