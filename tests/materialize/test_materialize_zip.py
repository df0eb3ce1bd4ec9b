"""The zip sink's spooled central directory: the same bytes zipfile writes, zip64 end records
where zipfile would put them, memory flat in the number of entries."""

from __future__ import annotations

import contextlib
import shutil
import struct
import subprocess
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from mat_views import SourceView
from test_materialize_runs import _Synthetic

from snapexport.materialize import ExportOptions, materialize, zip_sink
from snapexport.materialize.view import StoredFile

NOW = (2025, 6, 1, 12, 0, 0)
END64 = b"PK\x06\x06"
LOCATOR = b"PK\x06\x07"


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON entries are dated now: pin it so two runs can be compared byte for byte."""
    monkeypatch.setattr(zip_sink.ZipSink, "_now", lambda self: NOW)


def _zipfile_wrote_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sink as it was: ZipInfos kept to the end, zipfile writes the directory."""

    def close(self: zip_sink.ZipSink) -> None:
        assert self._zip is not None
        self._zip.close()
        self._zip = None

    monkeypatch.setattr(zip_sink.ZipSink, "_spill", lambda self: None)
    monkeypatch.setattr(zip_sink.ZipSink, "_write_directory", close)


def _check_readable(path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        infos = z.infolist()
    if shutil.which("unzip"):  # Info-ZIP too, where it is installed
        done = subprocess.run(["unzip", "-tqq", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    return infos


@pytest.mark.parametrize("prefix", [False, True])
def test_spooled_directory_is_what_zipfile_writes(
    plain_view: SourceView,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixed_now: None,
    prefix: bool,
) -> None:
    options = ExportOptions(
        zip=True, zip_name="spooled", use_folder_prefix=prefix, split_manifest=prefix
    )
    spooled = materialize(plain_view, tmp_path, options).path
    with monkeypatch.context() as m:
        _zipfile_wrote_it(m)
        options = ExportOptions(
            zip=True, zip_name="zipfile", use_folder_prefix=prefix, split_manifest=prefix
        )
        reference = materialize(plain_view, tmp_path, options).path
    assert spooled.read_bytes() == reference.read_bytes()
    infos = _check_readable(spooled)
    assert len(infos) > 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spooled.zip", "zipfile.zip"]


def test_zip64_end_records_when_the_limits_are_passed(
    plain_view: SourceView,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fixed_now: None,
) -> None:
    """Lowered limits stand in for 65,535 entries and 4 GiB: the zip64 end record and
    locator follow the directory, and per-entry zip64 fields carry the large offsets."""
    monkeypatch.setattr(zip_sink, "ZIP_FILECOUNT_LIMIT", 10)
    monkeypatch.setattr(zip_sink, "ZIP64_LIMIT", 100_000)
    path = materialize(plain_view, tmp_path, ExportOptions(zip=True, zip_name="z64")).path
    data = path.read_bytes()
    infos = _check_readable(path)

    eocd = data.rindex(b"PK\x05\x06")
    assert len(data) - eocd == 22
    _, _, _, count16, total16, size32, offset32, _ = struct.unpack("<4s4H2LH", data[eocd:])
    locator = eocd - 20
    assert data[locator : locator + 4] == LOCATOR
    _, _, end64_at, _ = struct.unpack("<4sLQL", data[locator:eocd])
    assert data[end64_at : end64_at + 4] == END64
    fields = struct.unpack("<4sQ2H2L4Q", data[end64_at : end64_at + 56])
    count, total, size, offset = fields[-4:]
    assert count == total == len(infos) > 10
    assert offset + size == end64_at
    assert (count16, total16) == (count, total)  # below 0xFFFF: zipfile keeps the real count
    assert (size32, offset32) == (size, offset)  # below 4 GiB: zipfile keeps the real ones
    far = [i for i in infos if i.header_offset > 100_000]
    assert far and all(i.extra[:2] == b"\x01\x00" for i in far)  # zip64 extra field
    with zipfile.ZipFile(path) as z:
        for info in far[:5]:
            assert len(z.read(info)) == info.file_size


def test_failed_zip_leaves_no_spool(plain_view: SourceView, tmp_path: Path) -> None:
    class Broken(SourceView):
        def __init__(self, base: SourceView) -> None:
            self.__dict__.update(base.copy().__dict__)
            self.left = 20

        def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
            self.left -= 1
            if self.left < 0:
                raise KeyboardInterrupt
            return super().read(f)

    with contextlib.suppress(KeyboardInterrupt):
        materialize(Broken(plain_view), tmp_path, ExportOptions(zip=True, zip_name="x"))
    assert list(tmp_path.iterdir()) == []


class _Small(_Synthetic):
    """Many documents with one 1 KiB original each."""

    def read(self, f: StoredFile, *, ahead: bool = True) -> Iterator[bytes]:
        yield bytes([f.blob[-1]]) * f.size


def _peak(view: _Synthetic, out: Path, *, zip_export: bool) -> int:
    out.mkdir()
    options = ExportOptions(zip=zip_export, zip_name="many", no_thumbnail=True)
    tracemalloc.start()
    try:
        result = materialize(view, out, options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.files_written == view.documents + 2
    return peak


@pytest.mark.parametrize("zip_export", [True, False])
def test_memory_flat_in_the_number_of_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zip_export: bool
) -> None:
    # The zip's manifest is spooled in memory up to 16 MiB, then on disk, and the spools are
    # copied in 1 MiB blocks: bounded, but above what these small runs reach. Lower both
    # bounds so the runs are past them.
    monkeypatch.setattr(zip_sink, "_SPOOL", 64 << 10)
    monkeypatch.setattr(zip_sink, "_READ", 64 << 10)
    # Each size runs twice and the lower peak counts: pathlib interns every name it parses,
    # and CPython's table of interned strings is reallocated (about 2-4 MB in a long test
    # process, whatever the export) when its free slots run out. That lands in one run or
    # another depending on what ran before, and leaves room for more names than a run adds.
    few = min(_peak(_Small(documents=500, size=1024), tmp_path / f"few{i}", zip_export=zip_export)
              for i in range(2))  # fmt: skip
    many = min(_peak(_Small(documents=5000, size=1024), tmp_path / f"many{i}",
                     zip_export=zip_export) for i in range(2))  # fmt: skip
    # Ten times the entries. What still grows is the namer's two fingerprint tables (16
    # bytes a name, twice that while a table doubles: up to about 450 KB here); a ZipInfo
    # kept per entry would add about 2 MB, the names kept as strings about 1.3 MB.
    assert many < few + (640 << 10), (few, many)
