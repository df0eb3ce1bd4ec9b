"""Building a snapshot: walk a source, store what is new, commit everything at once.

The builder compares the site with the catalog's current spans (the newest snapshot):
records through their fingerprints (only new fingerprints are serialized), files through
their DB checksum or a stat cache (only new or changed files are read). Content goes to the
store as it is found; the span changes wait in a staging file and become the snapshot in one
final transaction, so an interrupted run leaves no snapshot and the next run reuses every
chunk the interrupted one stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import stat
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import blake3
import zstandard

from snapexport.catalog import records as spans
from snapexport.catalog.records import Spans
from snapexport.catalog.snapshots import CommitTallies
from snapexport.catalog.staging import FileVersion, Staging
from snapexport.errors import SnapexportError, SnapshotIncompleteError
from snapexport.faults import checkpoint
from snapexport.progress import NullReporter, Reporter
from snapexport.source.base import FileRef, RowRef, SerializedRecord, Source
from snapexport.values import MissingFile, SnapshotMeta

if TYPE_CHECKING:
    from snapexport.store import Store

DOCUMENT_MODEL = "documents.document"
_BATCH = 500
_READ = 1 << 20
# Below this, hashing a block inline costs less than handing it to the checksum thread.
_LANE_MIN = 64 * 1024
# Plain files up to this size are read whole, with their checksum, on the checksum thread
# while the file before them is being stored; larger ones stream in blocks.
_PREFETCH_MAX = 16 << 20


class RecordVerificationError(SnapexportError):
    """--verify-records found a row the fast path would have stored differently."""


@dataclass(frozen=True, slots=True)
class SnapshotOptions:
    """How to take one snapshot."""

    tags: tuple[str, ...] = ()
    batch_size: int = _BATCH
    verify_files: bool = False  # read and hash every file, trust no cache
    verify_records: bool = False  # serialize every row; fail if the fast path disagrees
    strict: bool = False  # a missing file fails the run instead of an incomplete snapshot
    time: datetime | None = None  # the moment the snapshot depicts (default: now)
    host: str | None = None


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

    @property
    def complete(self) -> bool:
        return not self.missing

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
        }


class _HashingReader:
    """Wraps a file: counts bytes and computes the DB's checksum algorithm on the way.

    With a ``lane`` (an executor with one worker thread), blocks of at least
    ``_LANE_MIN`` bytes are hashed there while the caller cuts and BLAKE3-hashes the same
    block for the store: hashlib releases the GIL on large buffers, so the checksum runs on
    the second core. One update is in flight at a time and the next waits for it, so the
    digest sees the blocks in order. ``size`` (the stat size) caps each read at what the file
    should still hold plus one byte, which spares a 16 MiB allocation per small file; a file
    that grew ends one byte past its stat size, which its caller sees.
    """

    def __init__(
        self,
        f: IO[bytes],
        algo: str | None,
        *,
        lane: Executor | None = None,
        size: int | None = None,
    ) -> None:
        self._f = f
        self.digest = hashlib.new(algo) if algo else None
        self.count = 0
        self._lane = lane
        self._size = size
        self._pending: Future[None] | None = None

    def read(self, n: int = -1) -> bytes:
        if self._size is not None:
            left = self._size - self.count + 1
            if left <= 0:
                return b""  # grew past its stat size: the caller reports it as changed
            n = left if n < 0 else min(n, left)
        data = self._f.read(n)
        self.count += len(data)
        if self.digest is not None and data:
            self._wait()
            if self._lane is not None and len(data) >= _LANE_MIN:
                self._pending = self._lane.submit(self.digest.update, data)
            else:
                self.digest.update(data)
        return data

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def hexdigest(self) -> str | None:
        """The checksum of everything read (after the last update has finished)."""
        self._wait()
        return self.digest.hexdigest() if self.digest is not None else None

    def close(self) -> None:
        """Wait for an update still running (the reader may be dropped after an error)."""
        with contextlib.suppress(Exception):
            self._wait()


class _Digest:
    """A checksum already computed (a prefetched file), read like a ``_HashingReader``'s."""

    __slots__ = ("_hex",)

    def __init__(self, hexdigest: str | None) -> None:
        self._hex = hexdigest

    def hexdigest(self) -> str | None:
        return self._hex


# What ``_Walk._read`` returns: the blob id, the bytes read and its checksum (maybe running).
_Read = tuple[bytes, int, _HashingReader | _Digest]
_Slurp = Future[tuple[bytes, str | None, os.stat_result]]


def _slurp(path: Path, size: int, algo: str | None) -> tuple[bytes, str | None, os.stat_result]:
    """Read a whole file (at most its stat size plus one byte, which shows growth), its
    checksum and its stat after reading; runs on the checksum thread."""
    with open(path, "rb") as f:
        data = f.read(size + 1)
        after = os.fstat(f.fileno())
    return data, hashlib.new(algo, data).hexdigest() if algo else None, after


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
            meta = _commit(store, stage, info.profile, moment, options, site, walk, stored_before)
    reporter.done()
    return SnapshotResult(
        meta=meta,
        documents=_as_dict(walk.per_model.get(DOCUMENT_MODEL, _Counts())),
        records=_as_dict(walk.total_records()),
        files_read=walk.files_read,
        files_skipped=walk.files_skipped,
        bytes_read=walk.bytes_read,
        bytes_stored=_stored(store) - stored_before,
        missing=tuple(walk.missing),
        warnings=tuple(warnings),
        seconds=time.monotonic() - started,
        verified={"records": walk.records_verified},
    )


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


class _Walk:
    """One pass over a source, staging every difference from the current spans."""

    def __init__(
        self,
        store: Store,
        index: Spans,
        stage: Staging,
        source: Source,
        options: SnapshotOptions,
        reporter: Reporter,
    ) -> None:
        self.store, self.index, self.stage, self.source = store, index, stage, source
        self.options, self.reporter = options, reporter
        self.per_model: dict[str, _Counts] = {}
        self.missing: list[MissingFile] = []
        self.warnings: list[str] = []
        self.files_read = self.files_skipped = self.bytes_read = 0
        self.records_verified = 0
        self._cctx = zstandard.ZstdCompressor(level=6)
        self._mismatches: list[str] = []
        self._checksums: ThreadPoolExecutor | None = None  # the checksum thread (_read)
        self._unfinished: deque[tuple[FileRef, spans.CurrentFile | None, os.stat_result, _Read]]
        self._unfinished = deque()

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
        self.stage.record_data(h, self._cctx.compress(text))
        self.stage.new_span(model, row.pk, h, row.fingerprint, row.sort_key, extra)
        if cur is None:
            c.new += 1
        else:
            self.stage.kill(cur.id)
            c.changed += 1

    # -- files ---------------------------------------------------------------------------

    def files(self) -> None:
        self.reporter.phase("files")
        batch: list[FileRef] = []
        try:
            for ref in self.source.files():
                batch.append(ref)
                if len(batch) >= _BATCH:
                    self._file_batch(batch)
                    batch = []
            if batch:
                self._file_batch(batch)
            self._finish_reads()
        finally:
            self.close()

    def _file_batch(self, batch: list[FileRef]) -> None:
        current = self.index.current_files([r.path for r in batch])
        # One file to read is decided (and its read started) ahead of the one being stored.
        ahead: deque[tuple[FileRef, spans.CurrentFile | None, os.stat_result, _Slurp | None]]
        ahead = deque()
        for ref in batch:
            cur = current.get(ref.path)
            st = self._file(ref, cur)
            if st is None:
                continue
            ahead.append((ref, cur, st, self._prefetch(ref, st)))
            if len(ahead) > 1:
                self._read_file(*ahead.popleft())
        while ahead:
            self._read_file(*ahead.popleft())

    def _file(self, ref: FileRef, cur: spans.CurrentFile | None) -> os.stat_result | None:
        """Skip or keep ``ref`` from the catalog if it can; else its stat (to be read)."""
        try:
            st = _stat(ref)
        except OSError as err:
            self._missing(ref, _reason(err))
            return None
        size, mtime_ns, mode = st.st_size, st.st_mtime_ns, st.st_mode
        inode = st.st_ino or None
        verify = self.options.verify_files
        if (
            cur is not None
            and not verify
            and (cur.size, cur.mtime_ns, cur.mode) == (size, mtime_ns, mode)
        ):
            same = cur.checksum == ref.checksum if ref.checksum else cur.inode == inode
            if same:
                self.stage.seen_file(ref.path)
                self.files_skipped += 1
                self.reporter.advance(items=1)
                return None
        if ref.checksum and not verify:
            blob = self.index.blob_by_checksum(ref.checksum, size, mtime_ns)
            if blob is not None:
                self._keep(cur, _version(ref, blob, st, ref.checksum))
                self.files_skipped += 1
                return None
        return st

    def _prefetch(self, ref: FileRef, st: os.stat_result) -> _Slurp | None:
        """Start reading a plain file of up to ``_PREFETCH_MAX`` bytes whole (and its
        checksum) on the checksum thread, while the file before it is being stored."""
        if getattr(ref, "opener", None) is not None or st.st_size > _PREFETCH_MAX:
            return None
        algo = ref.checksum_algo if ref.checksum else None
        return self._lane().submit(_slurp, ref.abs_path, st.st_size, algo)

    def _read_file(
        self,
        ref: FileRef,
        cur: spans.CurrentFile | None,
        st: os.stat_result,
        prefetched: _Slurp | None,
    ) -> None:
        try:
            if prefetched is None:
                read = self._read(ref, st)
            else:
                read = self._store_slurped(ref, st, prefetched.result())
        except _ChangedWhileRead:
            self._missing(ref, "changed while being read")
            return
        except OSError as err:
            self._missing(ref, _reason(err))
            return
        # The file's checksum may still be running on the checksum thread: it is compared
        # (and the file staged) once the next file has been read, so the two overlap.
        self._unfinished.append((ref, cur, st, read))
        self._finish_reads(keep=1)

    def _store_slurped(
        self, ref: FileRef, st: os.stat_result, slurped: tuple[bytes, str | None, os.stat_result]
    ) -> _Read:
        data, digest, after = slurped
        if len(data) != st.st_size or (after.st_size, after.st_mtime_ns) != (
            st.st_size,
            st.st_mtime_ns,
        ):
            raise _ChangedWhileRead
        blob = self.store.put_bytes(data, compressible=_compressible(ref.path))
        self.reporter.advance(nbytes=len(data))
        return blob.id, len(data), _Digest(digest)

    def _finish_reads(self, *, keep: int = 0) -> None:
        """Compare checksums and stage the files read, all but the ``keep`` newest."""
        while len(self._unfinished) > keep:
            ref, cur, st, (blob, nread, reader) = self._unfinished.popleft()
            digest = reader.hexdigest()
            self.files_read += 1
            self.bytes_read += nread
            if ref.checksum and digest is not None and digest != ref.checksum.lower():
                self.warnings.append(
                    f"{ref.path}: content does not match the database's {ref.checksum_algo}"
                    f" checksum (stored as read)"
                )
            self._keep(cur, _version(ref, blob, st, digest))

    def _keep(self, cur: spans.CurrentFile | None, v: FileVersion) -> None:
        self.stage.seen_file(v.path)
        self.reporter.advance(items=1)
        if cur is not None and v.same_content(
            cur.blob, cur.size, cur.mtime_ns, cur.mode, cur.checksum
        ):
            if cur.inode != v.inode:
                self.stage.refresh_file(cur.id, v.inode)
            return
        if cur is not None:
            self.stage.kill_file(cur.id)
        self.stage.new_file(v)

    def _read(self, ref: FileRef, st: os.stat_result) -> _Read:
        algo = ref.checksum_algo if ref.checksum else None
        with _open(ref) as f:
            reader = _HashingReader(f, algo, lane=self._lane(), size=st.st_size)
            try:
                blob = self.store.put_file(reader, compressible=_compressible(ref.path))
            except BaseException:
                reader.close()
                raise
            after = _fstat(f, ref)
        if reader.count != st.st_size or (after.st_size, after.st_mtime_ns) != (
            st.st_size,
            st.st_mtime_ns,
        ):
            reader.close()
            raise _ChangedWhileRead
        self.reporter.advance(nbytes=reader.count)
        return blob.id, reader.count, reader

    def _lane(self) -> ThreadPoolExecutor:
        if self._checksums is None:
            self._checksums = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checksum")
        return self._checksums

    def close(self) -> None:
        if self._checksums is not None:
            self._checksums.shutdown(wait=True)
            self._checksums = None

    def _missing(self, ref: FileRef, reason: str) -> None:
        self.missing.append(MissingFile(ref.path, ref.role, ref.owner_model, ref.owner_pk, reason))
        self.stage.missing(ref.path, ref.role, ref.owner_model, ref.owner_pk, reason)


def _version(ref: FileRef, blob: bytes, st: os.stat_result, checksum: str | None) -> FileVersion:
    return FileVersion(
        ref.path, ref.role, ref.owner_model, ref.owner_pk, blob, st.st_size, st.st_mtime_ns,
        st.st_mode, st.st_ino or None, checksum,
    )  # fmt: skip


class _ChangedWhileRead(Exception):
    pass


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


_INCOMPRESSIBLE = (".pdf", ".webp", ".png", ".jpg", ".jpeg", ".gif", ".zip", ".gz", ".zst")


def _compressible(path: str) -> bool | None:
    """A hint for the store: known compressed formats are not worth a trial."""
    return False if path.lower().endswith(_INCOMPRESSIBLE) else None


def _stat(ref: FileRef) -> os.stat_result:
    stat_fn = getattr(ref, "stat", None)
    if callable(stat_fn):
        return stat_fn()
    st = os.stat(ref.location)
    if not stat.S_ISREG(st.st_mode):
        raise IsADirectoryError(21, "not a regular file", os.fspath(ref.location))
    return st


@contextlib.contextmanager
def _open(ref: FileRef) -> Iterator[BinaryIO]:
    opener = getattr(ref, "opener", None)
    if callable(opener):
        with opener() as f:
            yield f
    else:
        with open(ref.abs_path, "rb") as f:
            yield f


def _fstat(f: BinaryIO, ref: FileRef) -> os.stat_result:
    try:
        return os.fstat(f.fileno())
    except (OSError, AttributeError, ValueError):
        return _stat(ref)


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
            id=secrets.token_hex(32),
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
        count_model=DOCUMENT_MODEL,
        build=build,
        in_commit=lambda: checkpoint("snapshot:in-commit"),
    )


def staging_folder(store: Store) -> Path | None:
    """Where to keep the staging file: the store's tmp folder when it has one."""
    folder = getattr(store, "tmp_dir", None)
    return Path(folder) if folder else None
