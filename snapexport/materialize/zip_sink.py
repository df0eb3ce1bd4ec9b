"""The zip sink: one ``<name>.zip``, built as ``<name>.zip.tmp`` and renamed on success.

Entries are streamed into the archive (never the whole export in memory, no extracted
copy); sizes are known in advance, so zip64 records appear only where an entry needs them.
Memory stays flat in the number of entries: as each entry is closed, its central-directory
record (exactly the bytes ``zipfile`` would write at close) goes to an unnamed spool file next
to the ``.tmp`` and its ``ZipInfo`` is dropped; at the end the spool is copied behind the
last entry and the end records follow (zip64 end record and locator when the count, size or
offset of the directory need them, as ``zipfile`` decides).
Entry attributes follow the exporter: folder entries (stored, 1980-01-01, mode 0o40777) once
per folder before its first file; files dated by their mtime in the site's local time with
their mode; JSON entries dated now with mode 0o600, the manifest (0o100600, spooled because
its size is unknown until written) last. Any failure, KeyboardInterrupt included, removes
the ``.tmp`` and leaves an existing zip of the same name untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime, tzinfo
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from snapexport.exportformat.manifest import MANIFEST
from snapexport.faults import checkpoint
from snapexport.fsutil import fsync_dir
from snapexport.materialize.options import ZipCompression
from snapexport.materialize.sinks import Chunks, Describe, SinkCounts
from snapexport.values import StoredFile

_READ = 1 << 20
_SPOOL = 1 << 20  # the manifest goes to disk past 1 MiB (about 1,000 documents)
# Already compressed: deflating them costs time and saves next to nothing.
_STORED_SUFFIXES = frozenset(
    {".pdf", ".webp", ".png", ".jpg", ".jpeg", ".gif", ".heic", ".zip", ".gz", ".zst"}
    | {".docx", ".xlsx", ".pptx", ".ppsx", ".odt", ".ods", ".odp", ".odg"}
)
_JSON_MODE = 0o600 << 16
_MANIFEST_MODE = (stat.S_IFREG | 0o600) << 16
_MIN_DATE = (1980, 1, 1, 0, 0, 0)
_MAX_DATE = (2107, 12, 31, 23, 59, 58)
# zipfile's limits: beyond them a record needs its zip64 form (tests lower them).
ZIP64_LIMIT: int = zipfile.ZIP64_LIMIT
ZIP_FILECOUNT_LIMIT: int = zipfile.ZIP_FILECOUNT_LIMIT
_CENTRAL_DIR = struct.Struct(zipfile.structCentralDir)  # type: ignore[attr-defined]
_END = struct.Struct(zipfile.structEndArchive)  # type: ignore[attr-defined]
_END64 = struct.Struct(zipfile.structEndArchive64)  # type: ignore[attr-defined]
_END64_LOCATOR = struct.Struct(zipfile.structEndArchive64Locator)  # type: ignore[attr-defined]


class ZipSink:
    """Writes the export as one zip file ``zip_path``."""

    def __init__(
        self,
        zip_path: Path,
        *,
        time_zone: tzinfo,
        compression: ZipCompression = "deflated",
        delete: bool = False,
    ) -> None:
        self.zip_path = zip_path
        self.tmp_path = zip_path.with_name(zip_path.name + ".tmp")
        self._tz = time_zone
        self._compression = compression
        self._delete = delete
        self._fh: BinaryIO | None = None
        self._zip: zipfile.ZipFile | None = None
        # Folder entries written so far: one per folder of the export (a handful, or one
        # per correspondent/year with a filename format), never one per document.
        self._dirs: set[str] = set()
        self._pending: IO[bytes] | None = None
        self._directory: IO[bytes] | None = None  # central-directory records, spooled
        self._entries = 0
        self.counts = SinkCounts()

    def __enter__(self) -> ZipSink:
        self._fh = open(self.tmp_path, "wb")
        try:
            # Unnamed (O_TMPFILE where the file system has it): nothing to clean up after a
            # crash; its size is 46 bytes plus the name per entry.
            self._directory = tempfile.TemporaryFile(dir=self.zip_path.parent)
            self._zip = zipfile.ZipFile(
                self._fh, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
            )
        except BaseException:
            self._abort()
            raise
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self._finalize()
            except BaseException:
                self._abort()
                raise
        else:
            self._abort()

    def will_read(self, arcname: str) -> bool:
        """Every file's bytes go into the zip: the exporter may read them all ahead."""
        return True

    def add_file(
        self,
        arcname: str,
        stored: StoredFile,
        chunks: Chunks,
        *,
        checksum: str | None,
        describe: Describe | None = None,  # writes at once: failures raise from this call
    ) -> None:
        mode = stored.mode if stat.S_IFMT(stored.mode) else stat.S_IFREG | (stored.mode or 0o644)
        info = self._info(arcname, self._local(stored.mtime_ns), (mode & 0xFFFF) << 16)
        info.file_size = stored.size
        with self._writer(info) as out:
            for chunk in chunks():
                out.write(chunk)
                self.counts.bytes_written += len(chunk)
                checkpoint("materialize:in-file")
        self._spill()
        self.counts.files_written += 1

    def add_json(self, arcname: str, data: bytes) -> None:
        info = self._info(arcname, self._now(), _JSON_MODE)
        info.file_size = len(data)
        with self._writer(info) as out:
            out.write(data)
        self._spill()
        self.counts.files_written += 1
        self.counts.bytes_written += len(data)

    @contextlib.contextmanager
    def manifest(self) -> Iterator[BinaryIO]:
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL, dir=self.zip_path.parent)  # noqa: SIM115
        try:
            yield spool  # type: ignore[misc]
        except BaseException:
            spool.close()
            raise
        self._pending = spool

    def _finalize(self) -> None:
        assert self._zip is not None and self._fh is not None
        if self._pending is not None:
            spool, self._pending = self._pending, None
            with spool:
                size = spool.tell()
                spool.seek(0)
                info = self._info(MANIFEST, self._now(), _MANIFEST_MODE)
                info.file_size = size
                with self._writer(info) as out:
                    while block := spool.read(_READ):
                        out.write(block)
                self._spill()
            self.counts.files_written += 1
            self.counts.bytes_written += size
        self._write_directory()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        if self._delete:
            self._wipe_target()
        os.replace(self.tmp_path, self.zip_path)
        fsync_dir(self.zip_path.parent)

    def _spill(self) -> None:
        """Move the closed entries' central-directory records from memory to the spool."""
        assert self._zip is not None and self._directory is not None
        for info in self._zip.filelist:
            self._directory.write(central_directory_record(info))
            self._entries += 1
        self._zip.filelist.clear()
        self._zip.NameToInfo.clear()

    def _write_directory(self) -> None:
        """The spooled central directory and the end records, where zipfile's close puts them."""
        assert self._zip is not None and self._fh is not None and self._directory is not None
        self._spill()
        start = self._zip.start_dir
        self._fh.seek(start)
        self._directory.seek(0)
        shutil.copyfileobj(self._directory, self._fh, _READ)
        self._fh.write(end_records(self._entries, self._fh.tell() - start, start))
        self._zip.fp = None  # written: zipfile must not write a directory of its own
        self._zip = None

    def _abort(self) -> None:
        if self._pending is not None:
            self._pending.close()
            self._pending = None
        if self._directory is not None:
            self._directory.close()
            self._directory = None
        if self._zip is not None:
            self._zip.fp = None  # the archive is discarded: do not write a directory
            self._zip = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp_path)

    def _wipe_target(self) -> None:
        keep = {self.zip_path.name, self.tmp_path.name}
        for item in self.zip_path.parent.iterdir():
            if item.name in keep:
                continue
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
            self.counts.files_deleted += 1

    def _info(self, arcname: str, date_time: tuple[int, ...], attr: int) -> zipfile.ZipInfo:
        self._ensure_dirs(arcname)
        info = zipfile.ZipInfo(arcname, date_time=date_time)  # type: ignore[arg-type]
        info.external_attr = attr
        info.compress_type = self._compress_type(arcname)
        return info

    def _writer(self, info: zipfile.ZipInfo) -> IO[bytes]:
        assert self._zip is not None
        return self._zip.open(info, "w")

    def _ensure_dirs(self, arcname: str) -> None:
        assert self._zip is not None
        folder = ""
        for part in PurePosixPath(arcname).parts[:-1]:
            folder += f"{part}/"
            if folder not in self._dirs:
                self._dirs.add(folder)
                self._zip.mkdir(folder)
                self._spill()

    def _compress_type(self, arcname: str) -> int:
        if self._compression == "stored":
            return zipfile.ZIP_STORED
        if self._compression == "auto" and PurePosixPath(arcname).suffix.lower() in (
            _STORED_SUFFIXES
        ):
            return zipfile.ZIP_STORED
        return zipfile.ZIP_DEFLATED

    def _local(self, mtime_ns: int) -> tuple[int, ...]:
        moment = datetime.fromtimestamp(mtime_ns // 1_000_000_000, self._tz)
        return _clamp(moment.timetuple()[:6])

    def _now(self) -> tuple[int, ...]:
        return _clamp(datetime.now(self._tz).timetuple()[:6])


def _clamp(date_time: tuple[int, ...]) -> tuple[int, ...]:
    return max(_MIN_DATE, min(_MAX_DATE, date_time))


def central_directory_record(info: zipfile.ZipInfo) -> bytes:
    """``info``'s central-directory record: what ``ZipFile._write_end_record`` writes for it.

    Kept in step with CPython's zipfile (3.11 to 3.13 write the same); the golden tests
    compare whole archives byte for byte.
    """
    dt = info.date_time
    dosdate = (dt[0] - 1980) << 9 | dt[1] << 5 | dt[2]
    dostime = dt[3] << 11 | dt[4] << 5 | (dt[5] // 2)
    extra: list[int] = []
    if info.file_size > ZIP64_LIMIT or info.compress_size > ZIP64_LIMIT:
        extra.append(info.file_size)
        extra.append(info.compress_size)
        file_size = compress_size = 0xFFFFFFFF
    else:
        file_size = info.file_size
        compress_size = info.compress_size
    if info.header_offset > ZIP64_LIMIT:
        extra.append(info.header_offset)
        header_offset = 0xFFFFFFFF
    else:
        header_offset = info.header_offset
    extra_data = info.extra
    min_version = 0
    if extra:
        extra_data = zipfile._strip_extra(extra_data, (1,))  # type: ignore[attr-defined]
        extra_data = struct.pack("<HH" + "Q" * len(extra), 1, 8 * len(extra), *extra) + extra_data
        min_version = zipfile.ZIP64_VERSION  # type: ignore[attr-defined]
    if info.compress_type == zipfile.ZIP_BZIP2:
        min_version = max(zipfile.BZIP2_VERSION, min_version)  # type: ignore[attr-defined]
    elif info.compress_type == zipfile.ZIP_LZMA:
        min_version = max(zipfile.LZMA_VERSION, min_version)  # type: ignore[attr-defined]
    extract_version = max(min_version, info.extract_version)
    create_version = max(min_version, info.create_version)
    filename, flag_bits = info._encodeFilenameFlags()  # type: ignore[attr-defined]
    header = _CENTRAL_DIR.pack(
        zipfile.stringCentralDir,  # type: ignore[attr-defined]
        create_version, info.create_system, extract_version, info.reserved,
        flag_bits, info.compress_type, dostime, dosdate,
        info.CRC, compress_size, file_size,
        len(filename), len(extra_data), len(info.comment),
        0, info.internal_attr, info.external_attr,
        header_offset,
    )  # fmt: skip
    return header + filename + extra_data + info.comment


def end_records(count: int, size: int, offset: int) -> bytes:
    """The records after a central directory of ``count`` entries, ``size`` bytes, starting
    at ``offset``: zipfile's, with the zip64 end record and locator where it writes them."""
    out = b""
    if count > ZIP_FILECOUNT_LIMIT or offset > ZIP64_LIMIT or size > ZIP64_LIMIT:
        out += _END64.pack(
            zipfile.stringEndArchive64,  # type: ignore[attr-defined]
            44, 45, 45, 0, 0, count, count, size, offset,
        )  # fmt: skip
        out += _END64_LOCATOR.pack(
            zipfile.stringEndArchive64Locator,  # type: ignore[attr-defined]
            0, offset + size, 1,
        )  # fmt: skip
        count = min(count, 0xFFFF)
        size = min(size, 0xFFFFFFFF)
        offset = min(offset, 0xFFFFFFFF)
    out += _END.pack(zipfile.stringEndArchive, 0, 0, count, count, size, offset, 0)  # type: ignore[attr-defined]
    return out
