"""The zip sink: one ``<name>.zip``, built as ``<name>.zip.tmp`` and renamed on success.

Entries are streamed into the archive (never the whole export in memory, no extracted
copy); sizes are known in advance, so zip64 records appear only where an entry needs them.
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
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime, tzinfo
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

from snapexport.fsutil import fsync_dir
from snapexport.materialize.options import ZipCompression
from snapexport.materialize.sinks import Chunks, SinkCounts
from snapexport.values import StoredFile

_READ = 1 << 20
_SPOOL = 16 << 20
# Already compressed: deflating them costs time and saves next to nothing.
_STORED_SUFFIXES = frozenset(
    {".pdf", ".webp", ".png", ".jpg", ".jpeg", ".gif", ".heic", ".zip", ".gz", ".zst"}
    | {".docx", ".xlsx", ".pptx", ".ppsx", ".odt", ".ods", ".odp", ".odg"}
)
_JSON_MODE = 0o600 << 16
_MANIFEST_MODE = (stat.S_IFREG | 0o600) << 16
_MIN_DATE = (1980, 1, 1, 0, 0, 0)
_MAX_DATE = (2107, 12, 31, 23, 59, 58)


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
        self._dirs: set[str] = set()
        self._pending: IO[bytes] | None = None
        self.counts = SinkCounts()

    def __enter__(self) -> ZipSink:
        self._fh = open(self.tmp_path, "wb")
        self._zip = zipfile.ZipFile(
            self._fh, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
        )
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
        self, arcname: str, stored: StoredFile, chunks: Chunks, *, checksum: str | None
    ) -> None:
        mode = stored.mode if stat.S_IFMT(stored.mode) else stat.S_IFREG | (stored.mode or 0o644)
        info = self._info(arcname, self._local(stored.mtime_ns), (mode & 0xFFFF) << 16)
        info.file_size = stored.size
        with self._writer(info) as out:
            for chunk in chunks():
                out.write(chunk)
                self.counts.bytes_written += len(chunk)
        self.counts.files_written += 1

    def add_json(self, arcname: str, data: bytes) -> None:
        info = self._info(arcname, self._now(), _JSON_MODE)
        info.file_size = len(data)
        with self._writer(info) as out:
            out.write(data)
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
                info = self._info("manifest.json", self._now(), _MANIFEST_MODE)
                info.file_size = size
                with self._writer(info) as out:
                    while block := spool.read(_READ):
                        out.write(block)
            self.counts.files_written += 1
            self.counts.bytes_written += size
        self._zip.close()
        self._zip = None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        if self._delete:
            self._wipe_target()
        os.replace(self.tmp_path, self.zip_path)
        fsync_dir(self.zip_path.parent)

    def _abort(self) -> None:
        if self._pending is not None:
            self._pending.close()
            self._pending = None
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
