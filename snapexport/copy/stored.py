"""A snapshot already in a store, read as a source: what ``copy`` feeds the snapshot builder.

Copying a snapshot is taking it again from a different source: the builder compares its
rows and files with the target's current spans exactly as on a night, stores only content
the target lacks, and commits with its own crash safety. This source gives the stored
snapshot's records in the snapshot's order and its files as readers over the source
store's blobs; nothing here needs Django.

Two shortcuts spare reading what the target has:

* Every file carries ``blob``, its id in the source store. When both stores name content
  alike (same id function and key, same chunker), a target that holds that blob keeps it
  without a byte read.
* Files are given a synthetic inode derived from the source blob id, so a file unchanged
  since the last copy is skipped by the builder's stat check (size, mtime, mode, inode)
  without reading it, and a changed one never is.

Record fingerprints are the record's text hash and extra, so the builder's fast path
re-sends a record exactly when its stored text or naming facts changed.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

import blake3

from snapexport.catalog.replay import Replay, SpanFacts
from snapexport.errors import CorruptionError
from snapexport.source.base import FileRef, RowRef, SerializedRecord, SiteInfo
from snapexport.values import MissingFile, SnapshotMeta, StoredFile

if TYPE_CHECKING:
    from snapexport.store import Store


class _BlobStream(io.RawIOBase):
    """A stored blob as a readable binary stream (chunk by chunk, nothing held)."""

    def __init__(self, store: Store, blob: bytes) -> None:
        super().__init__()
        self._chunks = store.read_blob(blob)
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._chunks.close()
        super().close()


_RECENT = 4096  # rows whose hashes are kept for serialize(): several of the builder's batches


def _inode(blob: bytes) -> int:
    """A positive 31-bit stand-in inode that changes with the content (as small as a real
    inode in the catalog: SQLite stores it in four bytes)."""
    return int.from_bytes(blob[:4], "big") >> 1 or 1


def _stat_of(f: StoredFile) -> os.stat_result:
    # (mode, ino, dev, nlink, uid, gid, size, atime, mtime, ctime) + ns times
    mtime_s = f.mtime_ns // 1_000_000_000
    return os.stat_result(
        (f.mode, _inode(f.blob), 0, 1, 0, 0, f.size, mtime_s, mtime_s, mtime_s,
         mtime_s, mtime_s, mtime_s, f.mtime_ns, f.mtime_ns, f.mtime_ns)
    )  # fmt: skip


class StoredSnapshotSource:
    """One committed snapshot of ``store`` (opened for reading), as a ``Source``."""

    def __init__(self, store: Store, meta: SnapshotMeta, *, shared_ids: bool = False) -> None:
        self.store = store
        self.meta = meta
        self.shared_ids = shared_ids  # the target names content as this store does
        self.export_time = meta.time
        self._replay = Replay(store.catalog)
        self._recent: OrderedDict[str, SpanFacts] = OrderedDict()
        self._spans = store.catalog.spans

    def open(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def info(self) -> SiteInfo:
        i = self.meta.info
        return SiteInfo(
            profile=self.meta.profile,
            sections=tuple(i.get("sections") or ()),
            site_version=i.get("site_version"),
            time_zone=i.get("time_zone") or "UTC",
            migrations=dict(i.get("migrations") or {}),
            settings=dict(i.get("settings") or {}),
        )

    def rows(self, model: str) -> Iterator[RowRef]:
        recent = self._recent
        recent.clear()
        for span in self._replay.spans_in_order(self.meta.seq, model):
            h = blake3.blake3(span.hash)
            h.update(b"\0" + (span.extra or "").encode("utf-8"))
            # The builder asks for the texts of a batch right after it was yielded: keep the
            # newest rows' hashes (bounded) so the texts come straight by hash.
            recent[span.pk] = span
            if len(recent) > _RECENT:
                del recent[next(iter(recent))]
            yield RowRef(span.pk, h.digest(), span.sort_key)

    def serialize(self, model: str, pks: Sequence[str]) -> Iterator[SerializedRecord]:
        known = [self._recent[pk] for pk in pks if pk in self._recent]
        texts = self._replay.texts_by_hash([s.hash for s in known])
        for span in known:
            text = texts.get(bytes(span.hash))
            if text is None:
                raise CorruptionError(
                    f"record {model} {span.pk} of snapshot {self.meta.short_id} has no stored"
                    " text (run snapexport check on the source store)"
                )
            yield SerializedRecord(span.pk, text, json.loads(span.extra) if span.extra else None)
        rest = [pk for pk in pks if pk not in self._recent]
        for pk, text, extra in self._replay.texts(self.meta.seq, model, rest) if rest else ():
            yield SerializedRecord(pk, text, extra)

    def files(self) -> Iterator[FileRef]:
        seq = self.meta.seq
        for f in self._spans.files(seq):
            yield self._file_ref(f)
        for m in self._spans.missing(seq):
            yield self._missing_ref(m)

    def _file_ref(self, f: StoredFile) -> FileRef:
        st = _stat_of(f)
        store, blob = self.store, f.blob

        def opener() -> BinaryIO:
            return io.BufferedReader(_BlobStream(store, blob), 1 << 20)

        return FileRef(
            path=f.path, location=f.path, role=f.role, owner_model=f.owner_model,
            owner_pk=f.owner_pk, checksum=f.checksum, checksum_algo=_algo(f.checksum),
            opener=opener, stat=lambda: st, blob=blob if self.shared_ids else None,
        )  # fmt: skip

    @staticmethod
    def _missing_ref(m: MissingFile) -> FileRef:
        def gone() -> os.stat_result:
            raise OSError(errno.ENOENT, m.reason, m.path)

        return FileRef(
            path=m.path, location=m.path, role=m.role, owner_model=m.owner_model,
            owner_pk=m.owner_pk, stat=gone,
        )  # fmt: skip


def _algo(checksum: str | None) -> str | None:
    if not checksum:
        return None
    return {32: "md5", 64: "sha256"}.get(len(checksum))


__all__ = ["StoredSnapshotSource"]
