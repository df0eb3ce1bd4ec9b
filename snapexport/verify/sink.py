"""The sink verify hands to materialize's exporter: it writes nothing and compares each
file, JSON file and manifest record it is handed with the export's."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from snapexport.diskset import DiskSet
from snapexport.errors import RequestError
from snapexport.exportformat.containers import Container, Member
from snapexport.exportformat.crypto import CRYPTO_KEY
from snapexport.exportformat.manifest import (
    MANIFEST,
    METADATA,
    READ_BLOCK,
    ManifestError,
    ManifestRecord,
    ManifestSplitter,
    read_manifest,
)
from snapexport.materialize.sinks import Chunks, Describe, SinkCounts
from snapexport.materialize.view import SnapshotView
from snapexport.values import StoredFile
from snapexport.verify.records import RecordMatcher, change
from snapexport.verify.report import Difference, ExportComparison


def id_hasher(store: Any) -> Any:
    """A fresh hasher of the store's blob ids (keyed when the store is), or None.

    A blob's id is the store's id function over its whole content (a one-chunk blob's id
    is its chunk's id, which is the same thing), so hashing an export file with it gives
    the blob id the file should have.
    """
    hasher_of = getattr(getattr(store, "ids", None), "hasher", None)
    return hasher_of() if callable(hasher_of) else None


def _manifest_records(member: Member) -> Iterator[bytes]:
    """The export's manifest records as texts, streamed."""
    try:
        for record in read_manifest(member.open, member.name):
            yield record.text
    except ManifestError as err:
        raise RequestError(str(err)) from err


class _Writer:
    """A write-only binary stream that hands every write to a callback."""

    def __init__(self, take: Callable[[bytes], None]) -> None:
        self._take = take

    def write(self, data: bytes) -> int:
        self._take(bytes(data))
        return len(data)


class CompareSink:
    """Receives the export materialize would write and compares each part with the disk's."""

    def __init__(
        self,
        store: Any,
        view: SnapshotView,
        container: Container,
        report: ExportComparison,
        matcher: RecordMatcher,
        names: DiskSet,
        metadata: dict[str, Any],
    ) -> None:
        self.counts = SinkCounts()
        self.store = store
        self.view = view
        self.container = container
        self.report = report
        self.matcher = matcher
        self.names = names
        self.metadata = metadata

    def __enter__(self) -> CompareSink:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        return None

    def add_file(
        self,
        arcname: str,
        stored: StoredFile,
        chunks: Chunks,
        *,
        checksum: str | None,
        describe: Describe | None = None,  # writes at once: failures raise from this call
    ) -> None:
        self.names.add(arcname)
        self.report.files_checked += 1
        member = self._member(arcname)
        if member is None:
            self.report.add(Difference("missing", "file", arcname, f"{stored.size} bytes"))
            return
        if member.size != stored.size:
            self.report.add(
                Difference(
                    "different",
                    "file",
                    arcname,
                    f"{member.size} bytes in the export, {stored.size} in the snapshot",
                )
            )
            return
        if not self._same_content(member, stored, chunks):
            self.report.add(Difference("different", "file", arcname, "content differs (same size)"))

    def _member(self, arcname: str) -> Member | None:
        members = self.container.members(arcname)
        if len(members) > 1:
            self.report.add(
                Difference("extra", "file", arcname, f"{len(members)} zip entries with this name")
            )
        return members[-1] if members else None

    def _same_content(self, member: Member, stored: StoredFile, chunks: Chunks) -> bool:
        hasher = id_hasher(self.store)
        if hasher is not None:
            self._stream(member, hasher.update)
            return bool(hasher.digest() == stored.blob)
        # No id function to hash with: compare SHA-256 of both sides (reads the store too).
        mine, theirs = hashlib.sha256(), hashlib.sha256()
        self._stream(member, mine.update)
        for piece in chunks():
            theirs.update(piece)
        return mine.digest() == theirs.digest()

    def _stream(self, member: Member, update: Callable[[bytes], object]) -> None:
        with member.open() as f:
            while block := f.read(READ_BLOCK):
                update(block)
                self.report.bytes_hashed += len(block)

    def add_json(self, arcname: str, data: bytes) -> None:
        self.names.add(arcname)
        member = self._member(arcname)
        if member is None:
            self.report.add(Difference("missing", "file", arcname))
            if arcname != METADATA:
                self.matcher.pair_lists(json.loads(data), [], arcname)
            return
        with member.open() as f:
            raw = f.read()
        try:
            actual = json.loads(raw)
        except ValueError as err:
            self.report.add(Difference("different", "file", arcname, f"not valid JSON ({err})"))
            return
        if arcname == METADATA:
            self._metadata(json.loads(data), actual)
        elif not isinstance(actual, list):
            self.report.add(Difference("different", "file", arcname, "not a list of records"))
        else:
            self.matcher.pair_lists(json.loads(data), actual, arcname)

    def _metadata(self, expected: dict[str, Any], actual: Any) -> None:
        if not isinstance(actual, dict):
            self.report.add(Difference("different", "file", METADATA, "not a JSON object"))
            return
        actual = {k: v for k, v in actual.items() if k != CRYPTO_KEY}
        for key in dict.fromkeys([*expected, *actual]):
            if expected.get(key) != actual.get(key):
                self.report.add(
                    Difference(
                        "different",
                        "file",
                        METADATA,
                        change(key, expected.get(key), actual.get(key)),
                    )
                )

    @contextlib.contextmanager
    def manifest(self) -> Iterator[BinaryIO]:
        self.names.add(MANIFEST)
        splitter = ManifestSplitter()
        actual = _manifest_records(self.container.members(MANIFEST)[-1])

        def take(records: list[ManifestRecord]) -> None:
            for record in records:
                self.matcher.pair(record.text, next(actual, None), MANIFEST)

        yield _Writer(lambda data: take(splitter.feed(data)))  # type: ignore[misc]
        take(splitter.close())
        for rest in actual:
            self.matcher.pair(None, rest, MANIFEST)
