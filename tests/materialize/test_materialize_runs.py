"""Materialize runs: re-runs into a folder (-c, -cj, -d), zip atomicity, bad input, memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import tracemalloc
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import blake3
import pytest
from mat_views import SourceView

from snapexport.catalog.content import ChunkRow
from snapexport.errors import CorruptionError, ExportRequestError, MaterializeError
from snapexport.materialize import ExportOptions, exporter, materialize
from snapexport.materialize.view import MissingFile, SnapshotMeta, StoredFile, StoredRecord
from snapexport.source.serialize import record_text
from snapexport.store import Store, repository

ORIGINAL = "2024-01-01 Employer GmbH Loan warranty 3706.pdf"
THUMB = "2024-01-01 Employer GmbH Loan warranty 3706-thumbnail.webp"


# -- directory re-runs ------------------------------------------------------------------


def test_rerun_skips_unchanged_files(plain_view: SourceView, tmp_path: Path) -> None:
    first = materialize(plain_view, tmp_path, ExportOptions())
    assert first.files_skipped == 0
    again = materialize(plain_view, tmp_path, ExportOptions())
    assert again.files_written == 2  # manifest.json and metadata.json are always rewritten
    assert again.files_skipped == first.files_written - 2


def test_rerun_recopies_a_changed_file(plain_view: SourceView, tmp_path: Path) -> None:
    materialize(plain_view, tmp_path, ExportOptions())
    target = tmp_path / THUMB
    good = target.read_bytes()
    target.write_bytes(b"x" * len(good))  # same size, new mtime
    materialize(plain_view, tmp_path, ExportOptions())
    assert target.read_bytes() == good


def test_compare_checksums_trusts_content_not_mtime(plain_view: SourceView, tmp_path: Path) -> None:
    materialize(plain_view, tmp_path, ExportOptions())
    original = tmp_path / ORIGINAL
    os.utime(original, ns=(0, 0))  # same bytes, other mtime: -c keeps it
    result = materialize(plain_view, tmp_path, ExportOptions(compare_checksums=True))
    assert original.stat().st_mtime_ns == 0
    data = original.read_bytes()
    original.write_bytes(b"\0" * len(data))  # other bytes: -c recopies
    os.utime(original, ns=(0, 0))
    again = materialize(plain_view, tmp_path, ExportOptions(compare_checksums=True))
    assert original.read_bytes() == data
    assert again.files_written == result.files_written + 1


def test_compare_json_leaves_identical_json_alone(plain_view: SourceView, tmp_path: Path) -> None:
    materialize(plain_view, tmp_path, ExportOptions(split_manifest=True))
    manifest = tmp_path / "manifest.json"
    os.utime(manifest, ns=(0, 0))
    result = materialize(
        plain_view, tmp_path, ExportOptions(split_manifest=True, compare_json=True)
    )
    assert manifest.stat().st_mtime_ns == 0
    assert result.files_written == 0
    assert not (tmp_path / "manifest.json.tmp").exists()


def test_delete_removes_files_of_this_run_only(plain_view: SourceView, tmp_path: Path) -> None:
    (tmp_path / "old" / "deep").mkdir(parents=True)
    (tmp_path / "old" / "deep" / "stale.pdf").write_bytes(b"stale")
    (tmp_path / "stale.txt").write_bytes(b"stale")
    materialize(plain_view, tmp_path, ExportOptions(use_folder_prefix=True))
    result = materialize(plain_view, tmp_path, ExportOptions(delete=True))
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")}
    assert "stale.txt" not in names and "old" not in names
    assert not any(n.startswith(("originals", "thumbnails", "archive")) for n in names)
    assert ORIGINAL in names and "share_link_bundles/bundles/bundle-0001.zip" in names
    assert result.files_deleted > 3


# -- zip --------------------------------------------------------------------------------


class _Failing(SourceView):
    """Fails (or is interrupted) while streaming the n-th file."""

    def __init__(self, base: SourceView, error: BaseException, after: int = 5) -> None:
        self.__dict__.update(base.copy().__dict__)
        self._error = error
        self._left = after

    def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
        self._left -= 1
        if self._left < 0:
            raise self._error
        return super().read(f)


class _Counting(SourceView):
    """Counts the files whose bytes were asked for."""

    def __init__(self, base: SourceView) -> None:
        self.__dict__.update(base.copy().__dict__)
        self.asked: list[str] = []

    def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
        self.asked.append(f.path)
        return super().read(f)


def test_rerun_reads_no_file_it_keeps(plain_view: SourceView, tmp_path: Path) -> None:
    view = _Counting(plain_view)
    first = materialize(view, tmp_path, ExportOptions())
    assert len(view.asked) == first.files_written - 2  # all but manifest and metadata
    view.asked.clear()
    (tmp_path / THUMB).unlink()
    again = materialize(view, tmp_path, ExportOptions())
    # Files already in the target are not read ahead: only the one to write is read.
    assert len(view.asked) == 1 and view.asked[0].startswith("documents/thumbnails/")
    assert again.files_written == 3 and (tmp_path / THUMB).is_file()


class _BrokenFile(SourceView):
    """The n-th file asked for fails the moment its stream is opened."""

    def __init__(self, base: SourceView, broken: int) -> None:
        self.__dict__.update(base.copy().__dict__)
        self._broken = broken
        self.opened = 0

    def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
        self.opened += 1
        if self.opened == self._broken:
            raise CorruptionError(f"blob of {f.path} is damaged")
        return super().read(f)


def test_error_opening_a_file_ahead_is_reported_at_its_document(
    plain_view: SourceView, tmp_path: Path
) -> None:
    docs = [r.pk for r in plain_view.records("documents.document")]
    roles = [list(plain_view.files_of("documents.document", pk)) for pk in docs[:4]]
    broken = sum(len(r) for r in roles[:3]) + 1  # the fourth document's first file
    view = _BrokenFile(plain_view, broken)
    out, good = tmp_path / "out", tmp_path / "good"
    out.mkdir()
    good.mkdir()
    with pytest.raises(MaterializeError, match=rf"document {docs[3]}: cannot write its original"):
        materialize(view, out, ExportOptions())
    assert view.opened > broken  # the broken file was opened ahead, not at its turn
    # Every file of the documents before it is written whole; the broken one is not.
    materialize(plain_view, good, ExportOptions())
    records = json.loads((good / "manifest.json").read_text(encoding="utf-8"))
    by_pk = {str(r["pk"]): r for r in records if r["model"] == "documents.document"}
    keys = ("__exported_file_name__", "__exported_thumbnail_name__", "__exported_archive_name__")
    for pk in docs[:3]:
        names = [by_pk[pk][k] for k in keys if by_pk[pk].get(k)]
        assert names
        for name in names:
            assert (out / name).read_bytes() == (good / name).read_bytes()
    assert not (out / by_pk[docs[3]]["__exported_file_name__"]).exists()


@pytest.mark.parametrize("error", [KeyboardInterrupt(), CorruptionError("bad blob")])
def test_zip_failure_leaves_existing_zip_untouched(
    plain_view: SourceView, tmp_path: Path, error: BaseException
) -> None:
    existing = tmp_path / "export.zip"
    existing.write_bytes(b"the previous export")
    view = _Failing(plain_view, error)
    options = ExportOptions(zip=True, zip_name="export", delete=True)
    with pytest.raises(type(error) if isinstance(error, KeyboardInterrupt) else MaterializeError):
        materialize(view, tmp_path, options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.zip"]
    assert existing.read_bytes() == b"the previous export"


def test_corrupt_blob_names_the_document(plain_view: SourceView, tmp_path: Path) -> None:
    view = _Failing(plain_view, CorruptionError("blob 1234 does not match its id"), after=0)
    with pytest.raises(MaterializeError, match=r"document 1: cannot write its original") as err:
        materialize(view, tmp_path, ExportOptions())
    assert "partial" in str(err.value)
    with pytest.raises(MaterializeError, match=r"document 1:") as err:
        materialize(view, tmp_path, ExportOptions(zip=True))
    assert "partial" not in str(err.value)
    assert not list(tmp_path.glob("*.zip*"))


def test_zip_delete_keeps_only_the_zip(plain_view: SourceView, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a").write_text("x")
    (tmp_path / "export-old.zip").write_text("x")
    result = materialize(plain_view, tmp_path, ExportOptions(zip=True, delete=True))
    assert [p.name for p in tmp_path.iterdir()] == [result.path.name]


def test_default_zip_name_is_the_local_snapshot_date(
    plain_view: SourceView, tmp_path: Path
) -> None:
    moment = datetime(2025, 3, 1, 23, 30, tzinfo=UTC)
    view = plain_view.with_meta(time=moment)
    view.meta = replace(view.meta, info={**view.meta.info, "time_zone": "Europe/Berlin"})
    result = materialize(view, tmp_path, ExportOptions(zip=True, zip_name=None, data_only=True))
    assert result.path.name == "export-2025-03-02.zip"
    named = materialize(
        view, tmp_path, ExportOptions(zip=True, zip_name="backup.v2", data_only=True)
    )
    assert named.path.name == "backup.zip"


@pytest.mark.parametrize("mode", ["auto", "stored"])
def test_zip_compression_modes(plain_view: SourceView, tmp_path: Path, mode: str) -> None:
    options = ExportOptions(zip=True, zip_name=mode, zip_compression=mode)  # type: ignore[arg-type]
    result = materialize(plain_view, tmp_path, options)
    with zipfile.ZipFile(result.path) as z:
        kinds = {
            i.filename.rsplit(".", 1)[-1]: i.compress_type
            for i in z.infolist()
            if "." in i.filename
        }
    if mode == "stored":
        assert set(kinds.values()) == {zipfile.ZIP_STORED}
    else:
        assert kinds["pdf"] == kinds["webp"] == zipfile.ZIP_STORED
        assert kinds["json"] == kinds["txt"] == zipfile.ZIP_DEFLATED


# -- bad input --------------------------------------------------------------------------


def test_target_checks(plain_view: SourceView, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportRequestError, match=f"{tmp_path / 'file'} exists and is not a folder"):
        materialize(plain_view, tmp_path / "file", ExportOptions())
    # A folder that cannot be made (its parent is a file): the path is named. This fails
    # for root too, unlike a folder without write permission.
    with pytest.raises(
        ExportRequestError, match=f"cannot create the target folder {tmp_path}/file/x"
    ):
        materialize(plain_view, tmp_path / "file" / "x", ExportOptions(data_only=True))


def test_a_missing_target_is_created_with_its_parents(
    plain_view: SourceView, tmp_path: Path
) -> None:
    target = tmp_path / "new" / "nested" / "export"
    result = materialize(plain_view, target, ExportOptions(data_only=True))
    assert result.complete and (target / "manifest.json").is_file()


def test_an_unwritable_target_is_named(plain_view: SourceView, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):  # root: drop to nobody in a subprocess instead
        done = subprocess.run(
            [sys.executable, "-c", _AS_NOBODY], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("/") and " is not writable" in done.stdout
        return
    with pytest.raises(ExportRequestError, match=f"{locked} is not writable"):
        materialize(plain_view, locked, ExportOptions())


# As root, os.access says yes to everything: the check runs as user nobody instead.
_AS_NOBODY = """
import os, pwd, shutil, tempfile
from pathlib import Path
from snapexport.errors import ExportRequestError
from snapexport.materialize.exporter import check_target
nobody = pwd.getpwnam("nobody")
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
locked = Path(tempfile.mkdtemp())
try:
    locked.chmod(0o500)
    check_target(locked)
except ExportRequestError as err:
    print(err)
finally:
    locked.chmod(0o700)
    shutil.rmtree(locked)
"""


@pytest.mark.parametrize("flag", ["compare_checksums", "compare_json"])
def test_zip_refuses_compare_flags(plain_view: SourceView, tmp_path: Path, flag: str) -> None:
    with pytest.raises(ExportRequestError, match="no effect when used with --zip"):
        materialize(plain_view, tmp_path, ExportOptions(zip=True, **{flag: True}))


@pytest.mark.parametrize("name", ["../escape.pdf", "/etc/escape.pdf", "a/../../b.pdf"])
def test_names_outside_target_are_refused(
    plain_view: SourceView, tmp_path: Path, name: str
) -> None:
    view = plain_view.copy()
    first = next(view.records("documents.document"))
    view.replace_record("documents.document", first.pk, first.text, extra={"format_name": name})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MaterializeError, match="outside the target folder"):
        materialize(view, out, ExportOptions(use_filename_format=True))
    assert not (tmp_path / "escape.pdf").exists()


def test_incomplete_snapshot_writes_what_it_has(plain_view: SourceView, tmp_path: Path) -> None:
    view = plain_view.copy()
    stored = view.files_of("documents.document", "1")["original"]
    view.drop_file(stored, reason="Permission denied")
    result = materialize(view, tmp_path, ExportOptions())
    assert [(m.owner_pk, m.role, m.reason) for m in result.missing if m.owner_pk == "1"] == [
        ("1", "original", "Permission denied")
    ]
    records = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    doc = next(r for r in records if r["model"] == "documents.document" and r["pk"] == 1)
    assert not (tmp_path / doc["__exported_file_name__"]).exists()
    assert (tmp_path / doc["__exported_thumbnail_name__"]).exists()


# -- memory -----------------------------------------------------------------------------


class _Synthetic:
    """Documents whose files are generated on the fly in 1 MiB pieces."""

    def __init__(self, documents: int, size: int) -> None:
        self.size = size
        self.documents = documents
        self.meta = SnapshotMeta(
            id="cd" * 32,
            seq=1,
            time=datetime(2025, 1, 1, tzinfo=UTC),
            host="t",
            profile="paperless",
            tags=(),
            complete=True,
            info={"sections": ["documents.document"], "site_version": "3.0.5", "time_zone": "UTC"},
        )

    def records(self, model: str) -> Iterator[StoredRecord]:
        for pk in range(1, self.documents + 1) if model == "documents.document" else ():
            fields = {
                "title": f"Doc {pk}",
                "correspondent": None,
                "mime_type": "application/pdf",
                "created": "2025-01-01",
                "filename": f"{pk:07}.pdf",
                "archive_filename": None,
            }
            # not json.dumps(indent=2): its pure-Python encoder leaves reference cycles
            # behind every call, and when the collector gets to them depends on the run
            # (memory tests measure these runs' peaks)
            text = record_text({"model": model, "pk": pk, "fields": fields})
            yield StoredRecord(model, str(pk), text)

    def files_of(self, owner_model: str, owner_pk: str) -> dict[str, StoredFile]:
        pk = int(owner_pk)
        return {
            "original": StoredFile(
                f"documents/originals/{pk:07}.pdf",
                "original",
                owner_model,
                owner_pk,
                pk.to_bytes(32, "big"),
                self.size,
                1_700_000_000 * 10**9,
                0o100644,
            )
        }

    def files_of_many(
        self, owner_model: str, owner_pks: Sequence[str]
    ) -> dict[str, dict[str, StoredFile]]:
        return {pk: self.files_of(owner_model, pk) for pk in owner_pks}

    def files(self) -> Iterator[StoredFile]:
        return iter(())

    def missing(self) -> Iterator[MissingFile]:
        return iter(())

    def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
        piece = bytes([f.blob[-1]]) * (1 << 20)
        for _ in range(f.size >> 20):
            yield piece


@pytest.mark.parametrize("zip_export", [False, True])
def test_memory_stays_flat(tmp_path: Path, zip_export: bool) -> None:
    view = _Synthetic(documents=24, size=12 << 20)  # 288 MiB of file content
    options = ExportOptions(
        zip=zip_export, zip_name="big", no_thumbnail=True, zip_compression="stored"
    )
    tracemalloc.start()
    try:
        result = materialize(
            view,
            tmp_path,
            options,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.bytes_written >= 24 * (12 << 20)
    assert peak < 16 << 20, peak  # a few pieces in flight, never the files


class _StoreBacked(_Synthetic):
    """The synthetic documents with their bytes in a real store, read through it."""

    def __init__(self, store: Store, documents: int, size: int) -> None:
        super().__init__(documents, size)
        self.store = store
        self.blobs = {}
        self.content = {}
        for pk in range(1, documents + 1):
            data = blake3.blake3(pk.to_bytes(4, "big")).digest(length=size)
            self.blobs[pk] = store.put_bytes(data, compressible=False).id
            self.content[pk] = data
        store.flush()

    def files_of(self, owner_model: str, owner_pk: str) -> dict[str, StoredFile]:
        f = super().files_of(owner_model, owner_pk)["original"]
        return {"original": replace(f, blob=self.blobs[int(owner_pk)])}

    def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
        return self.store.read_blob(f.blob, ahead=ahead)


def test_reading_ahead_from_a_store_is_bounded_by_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exporter, "LOOKAHEAD_BYTES", 4 << 20)
    size = 1 << 20
    with Store.init(tmp_path / "store") as store:
        view = _StoreBacked(store, documents=32, size=size)  # 32 MiB of distinct bytes
        out = tmp_path / "out"
        out.mkdir()
        tracemalloc.start()
        try:
            result = materialize(view, out, ExportOptions(no_thumbnail=True))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.files_written == 32 + 2
    for pk in (1, 17, 32):
        assert (out / f"2025-01-01 Doc {pk}.pdf").read_bytes() == view.content[pk]
    # The folder's writer threads load what they write, a chunk at a time: only the files
    # being written are held; reading every file ahead would hold 32 MiB.
    assert peak < 12 << 20, peak


@pytest.mark.parametrize("zip_export", [False, True])
def test_folder_writers_load_what_they_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zip_export: bool
) -> None:
    """A folder's chunks are loaded, verified and written on its writer threads (no hand-off
    per chunk); a zip, written on the caller's thread, has them loaded ahead by the store."""
    loaded_on: list[str] = []
    read_chunk = repository.BlobStore.read_chunk

    def recording(self: repository.BlobStore, row: ChunkRow) -> bytes:
        loaded_on.append(threading.current_thread().name)
        return read_chunk(self, row)

    monkeypatch.setattr(repository.BlobStore, "read_chunk", recording)
    with Store.init(tmp_path / "store") as store:
        view = _StoreBacked(store, documents=12, size=256 << 10)
        out = tmp_path / "out"
        out.mkdir()
        options = ExportOptions(no_thumbnail=True, zip=zip_export, zip_name="z")
        materialize(view, out, options)
    assert len(loaded_on) == 12
    want = "store-read" if zip_export else "write"
    assert all(name.startswith(want) for name in loaded_on), loaded_on
    if not zip_export:
        for pk in (1, 6, 12):
            assert (out / f"2025-01-01 Doc {pk}.pdf").read_bytes() == view.content[pk]


def test_temp_files_of_dead_runs_are_removed_and_a_live_runs_kept(
    plain_view: SourceView, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    materialize(plain_view, out, ExportOptions())
    want = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead = int(gone.stdout)
    leftovers = [
        out / f".snapexport-{dead}.tmp",  # a JSON file
        out / "originals" / f".snapexport-{dead}.w.tmp",  # one writer thread's (earlier runs)
        out / "originals" / f".snapexport-{dead}.w4711.tmp",  # a writer thread's
        out / "manifest.json.tmp",
    ]
    live = out / f".snapexport-{os.getppid()}.w12.tmp"  # a run going on right now
    for path in [*leftovers, live]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    materialize(plain_view, out, ExportOptions())
    assert not any(p.exists() for p in leftovers)
    assert live.read_bytes() == b"half"
    live.unlink()
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == want


def test_write_failure_behind_the_caller_names_its_document_and_commits_no_manifest(
    plain_view: SourceView, tmp_path: Path
) -> None:
    """Folder files are written on a writer thread, behind the exporter: a file that cannot
    be written still names its own document, and no manifest.json is committed."""
    good, out = tmp_path / "good", tmp_path / "out"
    good.mkdir()
    materialize(plain_view, good, ExportOptions())
    records = json.loads((good / "manifest.json").read_text(encoding="utf-8"))
    docs = [r for r in records if r["model"] == "documents.document"]
    victim = docs[2]
    # A folder where the third document's original goes: its rename fails on the writer.
    (out / victim["__exported_file_name__"]).mkdir(parents=True)
    with pytest.raises(
        MaterializeError, match=rf"document {victim['pk']}: cannot write its original"
    ):
        materialize(plain_view, out, ExportOptions())
    assert not (out / "manifest.json").exists()
    assert not list(out.rglob(".snapexport-*"))
    for doc in docs[:2]:
        name = doc["__exported_file_name__"]
        assert (out / name).read_bytes() == (good / name).read_bytes()
