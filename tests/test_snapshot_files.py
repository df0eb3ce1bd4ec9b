"""The snapshot's file reading: the DB checksum on its own thread, overlapping the store.

The checksum of a file is computed on a second thread and compared once the next file has
been read, so these tests check that every file still gets its own checksum (in block
order, for files of several read blocks), that a mismatch is reported for the right file
wherever it falls (first, middle, last of the walk), that MD5 stays MD5, and that the blobs
are the ones the store would make from the bytes alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import blake3
import pytest

from snapexport.catalog import records as spans
from snapexport.filereads import LANE_MIN as _LANE_MIN
from snapexport.filereads import HashingReader as _HashingReader
from snapexport.snapshot import SnapshotOptions, take_snapshot
from snapexport.source.base import FileRef, SiteInfo
from snapexport.store import Store

MIB = 1 << 20


class FilesSource:
    """No records; the given files, in list order."""

    def __init__(self, files: list[FileRef]) -> None:
        self.files_ = files

    @contextlib.contextmanager
    def open(self) -> Iterator[None]:
        yield

    def info(self) -> SiteInfo:
        return SiteInfo("django", (), None, "UTC", {})

    def rows(self, model: str) -> Iterator:  # type: ignore[type-arg]
        return iter(())

    def serialize(self, model: str, pks: object) -> Iterator:  # type: ignore[type-arg]
        return iter(())

    def files(self) -> Iterator[FileRef]:
        return iter(self.files_)


def _write(folder: Path, name: str, size: int) -> tuple[Path, bytes]:
    data = blake3.blake3(name.encode()).digest(length=size)
    path = folder / name
    path.write_bytes(data)
    return path, data


def test_each_file_gets_its_own_checksum_and_only_wrong_ones_are_reported(
    tmp_path: Path,
) -> None:
    media = tmp_path / "media"
    media.mkdir()
    # Sizes around the thread hand-off threshold, several chunks, several 16 MiB read blocks.
    sizes = {
        "bad-first.pdf": 300_000,
        "tiny.webp": 12_000,
        "edge.pdf": _LANE_MIN,
        "below.pdf": _LANE_MIN - 1,
        "md5.pdf": 900_000,
        "bad-middle.pdf": 2 * MIB + 17,
        "big.pdf": 37 * MIB + 5,
        "empty.pdf": 0,
        "nochecksum.bin": 500_000,
        "bad-last.pdf": 1_000_001,
    }
    refs: list[FileRef] = []
    content: dict[str, bytes] = {}
    for name, size in sizes.items():
        path, data = _write(media, name, size)
        content[name] = data
        if name == "nochecksum.bin":
            refs.append(FileRef(name, path, "file"))
            continue
        algo = "md5" if name == "md5.pdf" else "sha256"
        checksum = hashlib.new(algo, data).hexdigest()
        if name.startswith("bad-"):
            checksum = hashlib.new(algo, data + b"!").hexdigest()
        refs.append(FileRef(name, path, "original", checksum=checksum, checksum_algo=algo))

    with Store.init(tmp_path / "store") as store:
        result = take_snapshot(store, FilesSource(refs), SnapshotOptions())  # type: ignore[arg-type]
        assert result.files_read == len(sizes)
        assert result.bytes_read == sum(sizes.values())
        assert not result.missing
        reported = sorted(w.split(":")[0] for w in result.warnings)
        assert reported == ["bad-first.pdf", "bad-last.pdf", "bad-middle.pdf"]
        current = spans.current_files(store.catalog.conn, list(sizes))
        for name, data in content.items():
            f = current[name]
            if name == "nochecksum.bin":
                assert f.checksum is None
            else:
                algo = "md5" if name == "md5.pdf" else "sha256"
                # What was read is recorded, also where the database disagrees.
                assert f.checksum == hashlib.new(algo, data).hexdigest(), name
            assert f.size == len(data)
            assert f.blob == blake3.blake3(data).digest(), name
            assert b"".join(store.read_blob(f.blob)) == data


def test_a_file_that_grows_while_read_is_missing_and_the_rest_are_kept(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    before, _ = _write(media, "before.pdf", 700_000)
    victim, _ = _write(media, "growing.pdf", 3 * MIB)
    after, after_data = _write(media, "after.pdf", 200_000)

    class Growing(io.FileIO):
        """Appends to its own file after the first read (as a writer would)."""

        def __init__(self) -> None:
            super().__init__(victim, "rb")
            self._grown = False

        def read(self, n: int = -1) -> bytes:
            data = super().read(n)
            if not self._grown:
                with open(victim, "ab") as g:
                    g.write(b"x" * 10)
                self._grown = True
            return data

    def sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    refs = [
        FileRef("before.pdf", before, "original", checksum=sha(before), checksum_algo="sha256"),
        FileRef(
            "growing.pdf",
            victim,
            "original",
            checksum=sha(victim),
            checksum_algo="sha256",
            opener=Growing,
        ),
        FileRef("after.pdf", after, "original", checksum=sha(after), checksum_algo="sha256"),
    ]
    with Store.init(tmp_path / "store") as store:
        result = take_snapshot(store, FilesSource(refs), SnapshotOptions())  # type: ignore[arg-type]
        assert [(m.path, m.reason) for m in result.missing] == [
            ("growing.pdf", "changed while being read")
        ]
        assert result.files_read == 2 and not result.warnings
        current = spans.current_files(store.catalog.conn, ["before.pdf", "after.pdf"])
        assert current["after.pdf"].checksum == hashlib.sha256(after_data).hexdigest()


class Blocks(io.RawIOBase):
    """A stream that returns at most ``step`` bytes a read (short reads, many blocks)."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step
        self.asked: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        self.asked.append(n)
        n = self._step if n < 0 else min(n, self._step)
        out, self._data = bytes(self._data[:n]), self._data[n:]
        return out


@pytest.mark.parametrize("algo", ["sha256", "md5"])
def test_hashing_reader_on_its_thread_sees_the_blocks_in_order(algo: str) -> None:
    data = os.urandom(5 * MIB + 123)
    with ThreadPoolExecutor(max_workers=1) as lane:
        for step in (_LANE_MIN - 1, _LANE_MIN, 3 * _LANE_MIN + 1, MIB):
            reader = _HashingReader(Blocks(data, step), algo, lane=lane)  # type: ignore[arg-type]
            read = b"".join(iter(lambda r=reader: r.read(2 * MIB), b""))  # type: ignore[misc]
            assert read == data
            assert reader.count == len(data)
            assert reader.hexdigest() == hashlib.new(algo, data).hexdigest()


def test_hashing_reader_reads_no_more_than_the_stat_size_and_one_byte() -> None:
    data = os.urandom(300_000)
    stream = Blocks(data, len(data))
    reader = _HashingReader(stream, "sha256", size=len(data) - 10)  # type: ignore[arg-type]
    got = reader.read(16 * MIB)
    assert len(got) == len(data) - 9 and reader.read(16 * MIB) == b""
    assert stream.asked == [len(data) - 9]  # and never again past the stat size
    assert reader.count == len(data) - 9  # != the stat size: the caller sees a change
    assert reader.hexdigest() == hashlib.sha256(data[: len(data) - 9]).hexdigest()


@pytest.mark.parametrize("change", ["size", "shrunk", "mtime"])
def test_a_file_that_changed_since_its_stat_is_missing_on_the_read_ahead_path(
    tmp_path: Path, change: str
) -> None:
    # A plain file is read whole on the checksum thread after its stat; a stat that no
    # longer matches the file (it changed in between) makes it missing, as when streamed.
    media = tmp_path / "media"
    media.mkdir()
    path, data = _write(media, "moved.pdf", 400_000)
    _, other = _write(media, "other.pdf", 100_000)
    real = path.stat()
    fields = list(real)
    if change == "size":
        fields[stat.ST_SIZE] = real.st_size - 1
    if change == "shrunk":  # the file now holds less than its stat said: read to its end
        fields[stat.ST_SIZE] = real.st_size + 5
    stale = os.stat_result(fields, {"st_mtime_ns": real.st_mtime_ns - (change == "mtime")})
    sha = hashlib.sha256(data).hexdigest()
    refs = [
        FileRef("moved.pdf", path, "original", checksum=sha, checksum_algo="sha256",
                stat=lambda: stale),
        FileRef("other.pdf", media / "other.pdf", "original"),
    ]  # fmt: skip
    with Store.init(tmp_path / "store") as store:
        result = take_snapshot(store, FilesSource(refs), SnapshotOptions())  # type: ignore[arg-type]
    assert [(m.path, m.reason) for m in result.missing] == [
        ("moved.pdf", "changed while being read")
    ]
    assert result.files_read == 1 and result.bytes_read == len(other)


def test_trusted_checksums_are_recorded_as_the_database_says_and_not_computed(
    tmp_path: Path,
) -> None:
    """--trust-checksums: no file is hashed for its checksum (an algorithm hashlib does not
    know would fail the read), the database's value is recorded, a wrong one goes
    unreported, and the next night finds every file unchanged by that value."""
    media = tmp_path / "media"
    media.mkdir()
    refs: list[FileRef] = []
    claimed: dict[str, str] = {}
    content: dict[str, bytes] = {}
    for name, size in {"small.pdf": 90_000, "big.pdf": 20 * MIB + 3, "wrong.pdf": 400_000}.items():
        path, data = _write(media, name, size)
        content[name] = data
        claimed[name] = hashlib.sha256(data + (b"!" if name == "wrong.pdf" else b"")).hexdigest()
        if name == "big.pdf":
            claimed[name] = claimed[name].upper()  # as given, never compared with anything
        refs.append(
            FileRef(name, path, "original", checksum=claimed[name], checksum_algo="no-such")
        )
    trusted = SnapshotOptions(trust_checksums=True)
    with Store.init(tmp_path / "store") as store:
        result = take_snapshot(store, FilesSource(refs), trusted)  # type: ignore[arg-type]
        assert (result.files_read, result.missing, result.warnings) == (3, (), ())
        assert result.summary()["checksums"] == "trusted"
        current = spans.current_files(store.catalog.conn, list(content))
        for name, data in content.items():
            assert current[name].checksum == claimed[name], name
            assert b"".join(store.read_blob(current[name].blob)) == data
        again = take_snapshot(store, FilesSource(refs), SnapshotOptions())  # type: ignore[arg-type]
        assert (again.files_read, again.files_skipped) == (0, 3)
        assert again.summary()["checksums"] == "checked"


def test_an_unreadable_file_costs_only_itself_not_the_files_read_with_it(tmp_path: Path) -> None:
    """Small files are read ahead several to a task (filereads.Bundle): one that fails to
    read (a folder now stands at its path) is missing with its reason, and the files queued
    before and after it in the same task are stored."""
    media = tmp_path / "media"
    media.mkdir()
    refs: list[FileRef] = []
    for i in range(9):
        path, _ = _write(media, f"doc{i}.pdf", 30_000 + i)
        refs.append(FileRef(f"doc{i}.pdf", path, "original"))
    (media / "gone.pdf").mkdir()
    looks_like_a_file = refs[0].abs_path.stat()
    refs.insert(4, FileRef("gone.pdf", media / "gone.pdf", "original",
                           stat=lambda: looks_like_a_file))  # fmt: skip
    with Store.init(tmp_path / "store") as store:
        result = take_snapshot(store, FilesSource(refs), SnapshotOptions())  # type: ignore[arg-type]
        assert [(m.path, m.reason) for m in result.missing] == [("gone.pdf", "Is a directory")]
        assert result.files_read == 9
        current = spans.current_files(store.catalog.conn, [r.path for r in refs])
        assert sorted(current) == sorted(f"doc{i}.pdf" for i in range(9))


def test_a_fifo_put_in_a_files_place_does_not_hang_the_night(tmp_path: Path) -> None:
    """A named pipe where a file was (after its stat) would block a plain open() until some
    writer came; the read-ahead opens without blocking and records it as changed."""
    media = tmp_path / "media"
    media.mkdir()
    path, _ = _write(media, "doc.pdf", 50_000)
    looks_like_a_file = path.stat()
    os.mkfifo(media / "pipe.pdf")
    refs = [
        FileRef("pipe.pdf", media / "pipe.pdf", "original", stat=lambda: looks_like_a_file),
        FileRef("doc.pdf", path, "original"),
    ]
    outcome: list[object] = []

    def run() -> None:
        with Store.init(tmp_path / "store") as store:
            outcome.append(take_snapshot(store, FilesSource(refs), SnapshotOptions()))  # type: ignore[arg-type]

    walk = threading.Thread(target=run, daemon=True)
    walk.start()
    walk.join(timeout=60)
    if walk.is_alive():  # blocked in open(): a writer that comes and goes lets it end
        with contextlib.suppress(OSError):
            os.close(os.open(media / "pipe.pdf", os.O_WRONLY | os.O_NONBLOCK))
        walk.join(timeout=60)
        pytest.fail("the snapshot blocked opening a FIFO")
    (result,) = outcome
    assert [(m.path, m.reason) for m in result.missing] == [  # type: ignore[attr-defined]
        ("pipe.pdf", "changed while being read")
    ]
    assert result.files_read == 1  # type: ignore[attr-defined]
