"""Test views for materialize: a ``SnapshotView`` over any ``Source`` (the builder in small).

Tests import these from here (``from mat_views import ...``), never from ``conftest``: every
test folder has a conftest, and which one ``import conftest`` finds depends on the order
pytest collected them in. ``conftest.py`` holds only the fixtures.

The catalog-backed view reads records and files from a store; these tests only need the
same contract, so ``SourceView`` walks a source once (as the snapshot builder does) and
keeps records in memory and file bytes either in memory or behind a callable.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import blake3

from snapexport.errors import CorruptionError
from snapexport.materialize.view import MissingFile, SnapshotMeta, StoredFile, StoredRecord
from snapexport.source.export import ExportSource
from tests.sitetools import GOLDEN


class SourceView:
    """Everything a source yields, as one snapshot (records in memory, file bytes too)."""

    def __init__(
        self,
        source: Any,
        *,
        time: datetime | None = None,
        profile: str = "paperless",
    ) -> None:
        self._records: dict[str, list[StoredRecord]] = {}
        self._files: dict[str, StoredFile] = {}
        self._owned: dict[tuple[str | None, str | None], dict[str, StoredFile]] = {}
        self._missing: list[MissingFile] = []
        self.blobs: dict[bytes, bytes] = {}
        with source.open():
            info = source.info()
            for model in info.sections:
                refs = list(source.rows(model))
                order = {r.pk: r.sort_key for r in refs}
                got = list(source.serialize(model, [r.pk for r in refs]))
                got.sort(key=lambda r: order[r.pk])
                self._records[model] = [StoredRecord(model, r.pk, r.text, r.extra) for r in got]
            for ref in source.files():
                try:
                    st = ref.stat() if ref.stat else os.stat(ref.abs_path)
                    if ref.opener is not None:
                        with ref.opener() as f:
                            data = f.read()
                    else:
                        data = ref.abs_path.read_bytes()
                except OSError as err:
                    self._missing.append(
                        MissingFile(
                            ref.path, ref.role, ref.owner_model, ref.owner_pk, err.strerror or ""
                        )
                    )
                    continue
                blob = blake3.blake3(data).digest()
                self.blobs[blob] = data
                stored = StoredFile(
                    ref.path,
                    ref.role,
                    ref.owner_model,
                    ref.owner_pk,
                    blob,
                    len(data),
                    st.st_mtime_ns,
                    st.st_mode,
                    ref.checksum,
                )
                self._add_file(stored)
        moment = time or getattr(source, "export_time", None) or datetime.now(UTC)
        self.meta = SnapshotMeta(
            id="ab" * 32,
            seq=1,
            time=moment,
            host="test",
            profile=profile,
            tags=(),
            complete=not self._missing,
            info={
                "sections": list(info.sections),
                "site_version": info.site_version,
                "time_zone": info.time_zone,
            },
        )

    def _add_file(self, stored: StoredFile) -> None:
        self._files[stored.path] = stored
        self._owned.setdefault((stored.owner_model, stored.owner_pk), {})[stored.role] = stored

    def records(self, model: str) -> Iterator[StoredRecord]:
        return iter(self._records.get(model, []))

    def files_of(self, owner_model: str, owner_pk: str) -> dict[str, StoredFile]:
        return dict(self._owned.get((owner_model, owner_pk), {}))

    def files_of_many(
        self, owner_model: str, owner_pks: Sequence[str]
    ) -> dict[str, dict[str, StoredFile]]:
        return {pk: self.files_of(owner_model, pk) for pk in owner_pks}

    def files(self) -> Iterator[StoredFile]:
        return iter(sorted(self._files.values(), key=lambda f: f.path))

    def missing(self) -> Iterator[MissingFile]:
        return iter(self._missing)

    def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
        data = self.blobs.get(f.blob)
        if data is None:
            raise CorruptionError(f"blob {f.blob.hex()[:12]} is missing from the store")
        if blake3.blake3(data).digest() != f.blob:
            raise CorruptionError(f"blob {f.blob.hex()[:12]} does not match its id")
        yield data

    # -- test helpers -------------------------------------------------------------------

    def copy(self) -> SourceView:
        """An independent view of the same snapshot (tests may change records and files)."""
        new = SourceView.__new__(SourceView)
        new._records = {m: list(rs) for m, rs in self._records.items()}
        new._files = dict(self._files)
        new._owned = {k: dict(v) for k, v in self._owned.items()}
        new._missing = list(self._missing)
        new.blobs = dict(self.blobs)
        new.meta = self.meta
        return new

    def replace_record(
        self, model: str, pk: str, text: str, *, extra: dict[str, Any] | None = None
    ) -> None:
        self._records[model] = [
            replace(r, text=text, extra=extra if extra is not None else r.extra)
            if r.pk == pk
            else r
            for r in self._records[model]
        ]

    def drop_file(self, stored: StoredFile, *, reason: str) -> None:
        """The snapshot could not read this file."""
        del self._files[stored.path]
        del self._owned[(stored.owner_model, stored.owner_pk)][stored.role]
        self._missing.append(
            MissingFile(stored.path, stored.role, stored.owner_model, stored.owner_pk, reason)
        )

    def add_file(self, stored: StoredFile, data: bytes) -> None:
        self.blobs[stored.blob] = data
        self._add_file(stored)
        self._missing = [
            m
            for m in self._missing
            if (m.owner_model, m.owner_pk, m.role)
            != (stored.owner_model, stored.owner_pk, stored.role)
        ]

    def add_record(self, model: str, record: StoredRecord) -> None:
        self._records.setdefault(model, []).append(record)

    def with_meta(self, **changes: Any) -> SourceView:
        self.meta = replace(self.meta, **changes)
        return self


def tree(root: Path) -> dict[str, tuple[int, str, int]]:
    """Every file under ``root``: relative path -> (size, sha256, mtime_ns)."""
    out = {}
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            out[path.relative_to(root).as_posix()] = (
                len(data),
                hashlib.sha256(data).hexdigest(),
                path.stat().st_mtime_ns,
            )
    return out


def golden_files(variant: str) -> dict[str, tuple[int, str, int]]:
    """A golden folder's files.tsv: path -> (size, sha256, mtime_ns)."""
    lines = (GOLDEN / variant / "files.tsv").read_text(encoding="utf-8").splitlines()[1:]
    out = {}
    for line in lines:
        path, size, sha, mtime = line.split("\t")
        out[path] = (int(size), sha, int(mtime))
    return out


def golden_zip_entries(variant: str) -> list[tuple[str, int, str, int, str]]:
    """A golden zip's entries: (name, size, sha256, compress_type, mode) in archive order."""
    lines = (GOLDEN / variant / "zip-entries.tsv").read_text(encoding="utf-8").splitlines()[1:]
    out = []
    for line in lines:
        _, name, size, sha, ctype, mode = line.split("\t")
        out.append((name, int(size), sha, int(ctype), mode))
    return out


class GoldenMtimes:
    """An ExportSource of full/plain whose files carry files.tsv's mtimes.

    full/plain was written with the exporter's mtimes kept; a copy of shared/ that did not
    keep them (a plain ``cp``) would make every file look new. The snapshot of the site
    records the mtimes files.tsv lists, so the view is given those.
    """

    def __init__(self, source: ExportSource, root: Path, variant: str = "plain") -> None:
        self._source = source
        self._root = root
        self._mtimes = {p: m for p, (_, _, m) in golden_files(variant).items()}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def files(self) -> Iterator[Any]:
        for ref in self._source.files():
            if ref.stat is not None:  # a lost file: keep its failure
                yield ref
                continue
            rel = ref.abs_path.relative_to(self._root).as_posix()
            mtime = self._mtimes.get(rel)
            st = os.stat(ref.abs_path)
            if mtime is None or st.st_mtime_ns == mtime:
                yield ref
                continue
            sec = mtime // 1_000_000_000
            ints = (st.st_mode, st.st_ino, st.st_dev, 1, 0, 0, st.st_size, sec, sec, sec)
            fake = os.stat_result(
                (*ints, mtime / 1e9, mtime / 1e9, mtime / 1e9, mtime, mtime, mtime)
            )
            yield replace(ref, stat=lambda fake=fake: fake)
