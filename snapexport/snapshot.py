"""Building a snapshot: walk a source, store what is new, commit everything at once.

The builder compares the site with the catalog's current spans (the newest snapshot):
records through their fingerprints (only new fingerprints are serialized), files through
their DB checksum or a stat cache (only new or changed files are read). Content goes to the
store as it is found; the span changes wait in a staging file and become the snapshot in one
final transaction, so an interrupted run leaves no snapshot and the next run reuses every
chunk the interrupted one stored.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import blake3

from snapexport.catalog import records as spans
from snapexport.catalog.records import Spans
from snapexport.catalog.snapshots import CommitTallies
from snapexport.catalog.staging import Staging
from snapexport.errors import RequestError, SnapexportError, SnapshotIncompleteError
from snapexport.exportformat.labels import DOCUMENT
from snapexport.faults import checkpoint
from snapexport.filewalk import FileWalk
from snapexport.progress import NullReporter, Reporter
from snapexport.source import SourceRequest, open_source
from snapexport.source.base import RowRef, SerializedRecord, Source
from snapexport.store import Store
from snapexport.store.missing import forget_missing_packs
from snapexport.values import MissingFile, SnapshotMeta

_BATCH = 500


class RecordVerificationError(SnapexportError):
    """--verify-records found a row the fast path would have stored differently."""


@dataclass(frozen=True, slots=True)
class SnapshotOptions:
    """How to take one snapshot."""

    tags: tuple[str, ...] = ()
    batch_size: int = _BATCH
    verify_files: bool = False  # read and hash every file, trust no cache
    # record the database's checksum of each file read instead of computing it (trusted
    # imports: no SHA-256 pass over every byte, and rotten media is not caught)
    trust_checksums: bool = False
    verify_records: bool = False  # serialize every row; fail if the fast path disagrees
    strict: bool = False  # a missing file fails the run instead of an incomplete snapshot
    time: datetime | None = None  # the moment the snapshot depicts (default: now)
    host: str | None = None
    snapshot_id: str | None = None  # keep this id (a copied snapshot); default: a new one

    def __post_init__(self) -> None:
        if self.verify_files and self.trust_checksums:
            raise RequestError("--verify-files checks every checksum; drop --trust-checksums")


@dataclass(slots=True)
class _Counts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotResult:
    """What one snapshot run did."""

    meta: SnapshotMeta
    documents: dict[str, int]  # new / changed / unchanged / removed
    records: dict[str, int]
    files_read: int
    files_skipped: int
    bytes_read: int  # bytes of site files read
    bytes_stored: int  # bytes written to packs
    missing: tuple[MissingFile, ...]
    warnings: tuple[str, ...]
    seconds: float
    verified: dict[str, int] = field(default_factory=dict)
    #: files read again because their stored content was in a pack that went missing
    restored: int = 0
    lost_packs: tuple[str, ...] = ()
    checksums_trusted: bool = False  # SnapshotOptions.trust_checksums

    @property
    def complete(self) -> bool:
        return not self.missing

    def as_json(self) -> dict[str, Any]:
        """The one JSON object ``snapshot --json`` prints."""
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """The one JSON object ``snapshot --json`` prints."""
        return {
            "snapshot": self.meta.id,
            "short_id": self.meta.short_id,
            "time": self.meta.time.isoformat(),
            "complete": self.complete,
            "documents": self.documents,
            "records": self.records,
            "files_read": self.files_read,
            "files_skipped": self.files_skipped,
            "bytes_read": self.bytes_read,
            "bytes_stored": self.bytes_stored,
            "missing": [m.path for m in self.missing],
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
            "checksums": "trusted" if self.checksums_trusted else "checked",
            "restored": {
                "files": self.restored,
                "reason": "their content was in missing packs" if self.lost_packs else None,
                "missing_packs": list(self.lost_packs),
            },
        }


def _now() -> datetime:
    return datetime.now(UTC)


def take_snapshot(
    store: Store,
    source: Source,
    options: SnapshotOptions = SnapshotOptions(),
    reporter: Reporter | None = None,
) -> SnapshotResult:
    """Record one snapshot of ``source`` into ``store`` (opened for writing)."""
    reporter = reporter or NullReporter()
    started = time.monotonic()
    # Never deduplicate against a pack that is gone: one listing of the packs, and the
    # catalog forgets what the missing ones held (store/missing.py).
    lost = forget_missing_packs(store)
    stored_before = _stored(store)
    with source.open():
        # An export ingested as a snapshot depicts the moment it was written.
        moment = options.time or getattr(source, "export_time", None) or _now()
        info = source.info()
        previous = store.catalog.snapshots.newest()
        with Staging(staging_folder(store)) as stage:
            walk = _Walk(store, store.catalog.spans, stage, source, options, reporter)
            walk.records(list(info.sections))
            checkpoint("snapshot:after-records")
            walk.files()
            checkpoint("snapshot:after-files")
            if walk.missing and options.strict:
                names = ", ".join(m.path for m in walk.missing[:5])
                raise SnapshotIncompleteError(
                    f"{len(walk.missing)} file(s) could not be read ({names}); --strict:"
                    " nothing was committed"
                )
            store.flush()
            site = {
                "sections": list(info.sections),
                "site_version": info.site_version,
                "time_zone": info.time_zone,
                "migrations": info.migrations,
                "settings": info.settings,
            }
            warnings = list(walk.warnings) + _version_warnings(previous, site)
            if lost:
                names = ", ".join(p[:12] for p in lost.packs[:3])
                more = f" and {len(lost.packs) - 3} more" if len(lost.packs) > 3 else ""
                warnings.append(
                    f"{len(lost.packs)} pack(s) missing from the store ({names}{more}):"
                    f" {walk.files_restored} file(s) read and stored again from the site;"
                    " run snapexport check to see what older snapshots still lack"
                )
            meta = _commit(store, stage, info.profile, moment, options, site, walk, stored_before)
    reporter.done()
    return SnapshotResult(
        meta=meta,
        documents=_as_dict(walk.per_model.get(DOCUMENT, _Counts())),
        records=_as_dict(walk.total_records()),
        files_read=walk.files_read,
        files_skipped=walk.files_skipped,
        bytes_read=walk.bytes_read,
        bytes_stored=_stored(store) - stored_before,
        missing=tuple(walk.missing),
        warnings=tuple(warnings),
        seconds=time.monotonic() - started,
        verified={"records": walk.records_verified},
        restored=walk.files_restored,
        lost_packs=lost.packs,
        checksums_trusted=options.trust_checksums,
    )


def record_snapshot(
    store_location: str | Path,
    site: SourceRequest,
    options: SnapshotOptions = SnapshotOptions(),
    reporter: Reporter | None = None,
) -> SnapshotResult:
    """``snapexport snapshot``: open the source (a site's Django boots first, so a bad
    site is reported before the store is locked), then the store, and record one snapshot."""
    source = open_source(site)
    # An append writer: readers may go on reading beside it (store/lock.py).
    with Store.open(store_location, write=True, append=True) as store:
        return take_snapshot(store, source, options, reporter)


def _stored(store: Store) -> int:
    return int(store.stats.bytes_stored)


def _as_dict(c: _Counts) -> dict[str, int]:
    return {"new": c.new, "changed": c.changed, "unchanged": c.unchanged, "removed": c.removed}


def _version_warnings(previous: SnapshotMeta | None, site: dict[str, Any]) -> list[str]:
    if previous is None:
        return []
    out = []
    old_version = previous.info.get("site_version")
    if old_version != site["site_version"]:
        out.append(
            f"site version changed since snapshot {previous.short_id}:"
            f" {old_version} -> {site['site_version']} (imports need the same version)"
        )
    old_mig = previous.info.get("migrations") or {}
    changed = sorted(
        app
        for app in set(old_mig) | set(site["migrations"])
        if old_mig.get(app) != site["migrations"].get(app)
    )
    if changed:
        out.append(
            f"migrations changed since snapshot {previous.short_id} in: {', '.join(changed)}"
        )
    return out


class _Walk(FileWalk):
    """One pass over a source, staging every difference from the current spans (the
    records here, the files in ``FileWalk``)."""

    def __init__(
        self,
        store: Store,
        index: Spans,
        stage: Staging,
        source: Source,
        options: SnapshotOptions,
        reporter: Reporter,
    ) -> None:
        super().__init__(
            store, index, stage, source, options.verify_files, reporter,
            trust_checksums=options.trust_checksums,
        )  # fmt: skip
        self.options = options
        self.per_model: dict[str, _Counts] = {}
        self.records_verified = 0
        self._mismatches: list[str] = []

    def total_records(self) -> _Counts:
        total = _Counts()
        for c in self.per_model.values():
            total.new += c.new
            total.changed += c.changed
            total.unchanged += c.unchanged
            total.removed += c.removed
        return total

    # -- records -------------------------------------------------------------------------

    def records(self, sections: list[str]) -> None:
        self.reporter.phase("records")
        for model in sections:
            counts = self.per_model.setdefault(model, _Counts())
            position = 0
            last_key: bytes | None = None
            batch: list[RowRef] = []
            for row in self.source.rows(model):
                if last_key is not None and row.sort_key < last_key:
                    self.stage.misordered(model)
                last_key = row.sort_key
                batch.append(row)
                if len(batch) >= self.options.batch_size:
                    self._record_batch(model, batch, position, counts)
                    position += len(batch)
                    batch = []
            if batch:
                self._record_batch(model, batch, position, counts)
        if self._mismatches:
            shown = "; ".join(self._mismatches[:5])
            raise RecordVerificationError(
                f"--verify-records: the fast path would have kept {len(self._mismatches)}"
                f" stale record(s): {shown}"
            )

    def _record_batch(self, model: str, batch: list[RowRef], position: int, c: _Counts) -> None:
        self.stage.seen([(model, r.pk, position + i) for i, r in enumerate(batch)])
        current = self.index.current_spans(model, [r.pk for r in batch])
        rows = {r.pk: r for r in batch}
        todo: list[str] = []
        for r in batch:
            cur = current.get(r.pk)
            if (
                cur is not None
                and cur.fingerprint == r.fingerprint
                and cur.sort_key == r.sort_key
                and not self.options.verify_records
            ):
                c.unchanged += 1
            else:
                todo.append(r.pk)
        if todo:
            for rec in self.source.serialize(model, todo):
                self._record(model, rows[rec.pk], current.get(rec.pk), rec, c)
        self.reporter.advance(items=len(batch))

    def _record(
        self,
        model: str,
        row: RowRef,
        cur: spans.CurrentSpan | None,
        rec: SerializedRecord,
        c: _Counts,
    ) -> None:
        text = rec.text.encode("utf-8")
        h = blake3.blake3(text).digest()
        extra = json.dumps(rec.extra, sort_keys=True, ensure_ascii=False) if rec.extra else None
        fast_path_kept = (
            cur is not None and cur.fingerprint == row.fingerprint and cur.sort_key == row.sort_key
        )
        if (
            cur is not None
            and cur.hash == h
            and cur.sort_key == row.sort_key
            and cur.extra == extra
        ):
            if self.options.verify_records and fast_path_kept:
                self.records_verified += 1
            elif cur.fingerprint != row.fingerprint:
                self.stage.refingerprint(cur.id, row.fingerprint)
            c.unchanged += 1
            return
        if self.options.verify_records and fast_path_kept:
            self._mismatches.append(f"{model} pk={row.pk}")
        self.stage.record_data(h, text)
        self.stage.new_span(model, row.pk, h, row.fingerprint, row.sort_key, extra)
        if cur is None:
            c.new += 1
        else:
            self.stage.kill(cur.id)
            c.changed += 1


def _commit(
    store: Store,
    stage: Staging,
    profile: str,
    moment: datetime,
    options: SnapshotOptions,
    site: dict[str, Any],
    walk: _Walk,
    stored_before: int,
) -> SnapshotMeta:
    path = stage.seal()
    checkpoint("snapshot:before-commit")

    def build(t: CommitTallies) -> SnapshotMeta:
        for model, n in t.removed.items():
            walk.per_model.setdefault(model, _Counts()).removed = n
        stats = {
            **t.totals,
            "documents": t.documents,
            "bytes_read": walk.bytes_read,
            "bytes_added": _stored(store) - stored_before,
            "changes": t.changes,
            "missing": len(walk.missing),
        }
        return SnapshotMeta(
            id=options.snapshot_id or secrets.token_hex(32),
            seq=t.seq,
            time=moment.astimezone(UTC),
            host=options.host or socket.gethostname(),
            profile=profile,
            tags=tuple(options.tags),
            complete=not walk.missing,
            info=site,
            stats=stats,
        )

    return store.catalog.snapshots.commit(
        path,
        site["sections"],
        count_model=DOCUMENT,
        build=build,
        in_commit=lambda: checkpoint("snapshot:in-commit"),
    )


def staging_folder(store: Store) -> Path | None:
    """Where to keep the staging file: the store's tmp folder when it has one."""
    folder = getattr(store, "tmp_dir", None)
    return Path(folder) if folder else None
