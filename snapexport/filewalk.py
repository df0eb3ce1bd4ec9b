"""The files half of a snapshot's walk: compare the site's files with the current file spans.

A file whose DB checksum, size and mtime match its current span is not read; other files
match on size, mtime and inode (the stat cache). A moved document is found by its checksum.
Files to read go to the store one at a time, in order, while the next few (``AHEAD_FILES``,
``AHEAD_BYTES``) are read whole, checksummed, cut and hashed on the checksum threads, in
bundles of a few (``filereads.Bundle``; ``PREFETCH_MAX``; larger files stream, their checksum
on those threads): this thread only packs and indexes, and the byte work runs on both cores.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from snapexport.catalog.records import CurrentFile, Spans
from snapexport.catalog.staging import FileVersion, Staging
from snapexport.filereads import (
    PREFETCH_MAX,
    Bundle,
    ChangedWhileRead,
    Digest,
    HashingReader,
    Read,
    Slurped,
    fstat_ref,
    open_ref,
    reason,
    stat_ref,
)
from snapexport.progress import Reporter
from snapexport.source.base import FileRef, Source
from snapexport.store.compression import compressible_by_name
from snapexport.store.prepared import Prepared
from snapexport.store.repository import BlobStore
from snapexport.values import MissingFile

BATCH = 500  # files whose current spans are looked up in one query
# Files read, checksummed, cut and hashed ahead of the one being stored, on this many
# threads: the byte work of the next files runs on both cores while this thread packs and
# indexes (a 3,000-document first snapshot into tmpfs: 10.0 s with one file ahead on one
# thread, 9.5 s with four on two; the files ahead are bounded by bytes too). They are read
# in bundles (``filereads.BUNDLE_FILES``): this many files ahead keeps about three in flight.
AHEAD_FILES = 48
AHEAD_BYTES = 32 << 20
# What a file read ahead waits in: its bundle and its place there.
Ahead = tuple[Bundle[Prepared], int]
LANES = 2


class FileWalk:
    """Walks a source's files, stages what changed, and counts what it read and skipped."""

    def __init__(
        self,
        store: BlobStore,
        index: Spans,
        stage: Staging,
        source: Source,
        verify_files: bool,
        reporter: Reporter,
        *,
        trust_checksums: bool = False,
    ) -> None:
        self.store, self.index, self.stage, self.source = store, index, stage, source
        self.verify_files = verify_files  # read and hash every file, trust no cache
        # record the database's checksum of a file read instead of computing it
        self.trust_checksums = trust_checksums
        self.reporter = reporter
        self.missing: list[MissingFile] = []
        self.warnings: list[str] = []
        self.files_read = self.files_skipped = self.bytes_read = 0
        self.files_restored = 0  # read again: their stored content was lost with a pack
        self._checksums: ThreadPoolExecutor | None = None  # the checksum threads (_lane)
        self._bundle: Bundle[Prepared] | None = None  # files queued to be read, not yet started
        self._unfinished: deque[tuple[FileRef, CurrentFile | None, os.stat_result, Read]]
        self._unfinished = deque()
        # a catalog that never recorded a file has no moved file to find (a first snapshot)
        self._may_have_moved = index.has_file_spans()

    # -- walking ---------------------------------------------------------------------------

    def files(self) -> None:
        self.reporter.phase("files")
        batch: list[FileRef] = []
        try:
            for ref in self.source.files():
                batch.append(ref)
                if len(batch) >= BATCH:
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
        ahead: deque[tuple[FileRef, CurrentFile | None, os.stat_result, Ahead | None]]
        ahead = deque()
        ahead_bytes = 0
        for ref in batch:
            cur = current.get(ref.path)
            st = self._file(ref, cur)
            if st is None:
                continue
            ahead.append((ref, cur, st, self._prefetch(ref, st)))
            ahead_bytes += st.st_size
            while len(ahead) > AHEAD_FILES or (len(ahead) > 1 and ahead_bytes > AHEAD_BYTES):
                ahead_bytes -= ahead[0][2].st_size
                self._read_file(*ahead.popleft())
        while ahead:
            self._read_file(*ahead.popleft())

    def _file(self, ref: FileRef, cur: CurrentFile | None) -> os.stat_result | None:
        """Skip or keep ``ref`` from the catalog if it can; else its stat (to be read)."""
        try:
            st = stat_ref(ref)
        except OSError as err:
            self._missing(ref, reason(err))
            return None
        size, mtime_ns, mode = st.st_size, st.st_mtime_ns, st.st_mode
        inode = st.st_ino or None
        verify = self.verify_files
        if cur is not None and not cur.stored:
            # Its content was in a pack that went missing: read it again, whatever the
            # stat says (the same bytes get the same blob id, which heals older snapshots).
            self.files_restored += 1
        elif (
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
        known = getattr(ref, "blob", None)
        if known is not None and not verify and self.store.has_blob(known):
            self._keep(cur, _version(ref, known, st, ref.checksum))
            self.files_skipped += 1
            return None
        if ref.checksum and not verify and self._may_have_moved:
            blob = self.index.blob_by_checksum(ref.checksum, size, mtime_ns)
            if blob is not None:
                self._keep(cur, _version(ref, blob, st, ref.checksum))
                self.files_skipped += 1
                return None
        return st

    def _prefetch(self, ref: FileRef, st: os.stat_result) -> Ahead | None:
        """Queue a plain file of up to ``PREFETCH_MAX`` bytes to be read whole (its checksum,
        chunks and ids) on the checksum threads, while the files before it are stored."""
        if getattr(ref, "opener", None) is not None or st.st_size > PREFETCH_MAX:
            return None
        bundle = self._bundle
        if bundle is None:
            # ... and cut and hashed there too: the store only packs and indexes it here
            bundle = self._bundle = Bundle(self._lane(), self.store.prepare)
        place = bundle.add(ref.location, st.st_size, self._checksum_algo(ref))
        if bundle.full:
            bundle.start()
            self._bundle = None
        return bundle, place

    def _read_file(
        self,
        ref: FileRef,
        cur: CurrentFile | None,
        st: os.stat_result,
        prefetched: Ahead | None,
    ) -> None:
        try:
            if prefetched is None:
                read = self._read(ref, st)
            else:
                bundle, place = prefetched
                if bundle is self._bundle:  # asked for before it filled: it starts now
                    self._bundle = None
                read = self._store_slurped(ref, st, bundle.result(place))
        except ChangedWhileRead:
            self._missing(ref, "changed while being read")
            return
        except OSError as err:
            self._missing(ref, reason(err))
            return
        # The file's checksum may still be running on the checksum thread: it is compared
        # (and the file staged) once the next file has been read, so the two overlap.
        self._unfinished.append((ref, cur, st, read))
        self._finish_reads(keep=1)

    def _store_slurped(self, ref: FileRef, st: os.stat_result, slurped: Slurped[Prepared]) -> Read:
        data, digest, after, prepared = slurped
        if (
            prepared is None
            or len(data) != st.st_size
            or (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns)
        ):
            raise ChangedWhileRead
        blob = self.store.put_prepared(prepared, compressible=compressible_by_name(ref.path))
        self.reporter.advance(nbytes=len(data))
        return blob.id, len(data), Digest(digest)

    def _finish_reads(self, *, keep: int = 0) -> None:
        """Compare checksums and stage the files read, all but the ``keep`` newest."""
        while len(self._unfinished) > keep:
            ref, cur, st, (blob, nread, reader) = self._unfinished.popleft()
            digest = reader.hexdigest()
            self.files_read += 1
            self.bytes_read += nread
            if digest is None and ref.checksum and self.trust_checksums:
                digest = ref.checksum  # as the database says, not as computed
            elif ref.checksum and digest is not None and digest != ref.checksum.lower():
                self.warnings.append(
                    f"{ref.path}: content does not match the database's {ref.checksum_algo}"
                    f" checksum (stored as read)"
                )
            self._keep(cur, _version(ref, blob, st, digest))

    def _keep(self, cur: CurrentFile | None, v: FileVersion) -> None:
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

    def _checksum_algo(self, ref: FileRef) -> str | None:
        """The checksum to compute of ``ref`` as it is read (None: none, or trusted)."""
        return ref.checksum_algo if ref.checksum and not self.trust_checksums else None

    def _read(self, ref: FileRef, st: os.stat_result) -> Read:
        algo = self._checksum_algo(ref)
        with open_ref(ref) as f:
            reader = HashingReader(f, algo, lane=self._lane(), size=st.st_size)
            try:
                blob = self.store.put_file(reader, compressible=compressible_by_name(ref.path))
            except BaseException:
                reader.close()
                raise
            after = fstat_ref(f, ref)
        if reader.count != st.st_size or (after.st_size, after.st_mtime_ns) != (
            st.st_size,
            st.st_mtime_ns,
        ):
            reader.close()
            raise ChangedWhileRead
        self.reporter.advance(nbytes=reader.count)
        return blob.id, reader.count, reader

    def _lane(self) -> ThreadPoolExecutor:
        if self._checksums is None:
            self._checksums = ThreadPoolExecutor(max_workers=LANES, thread_name_prefix="checksum")
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
