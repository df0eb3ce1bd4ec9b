"""The directory sink on its own: what its writer threads leave when they fail, and the
writeback they start."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from mat_views import SourceView

from snapexport import fsutil
from snapexport.materialize import ExportOptions, materialize
from snapexport.materialize.directory_sink import DirectorySink
from snapexport.values import StoredFile


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failure_found_at_the_manifests_commit_leaves_no_temp_file(
    tmp_path: Path, failure: BaseException
) -> None:
    """A writer thread's failure that surfaces only when the manifest is committed (the
    writer was still busy when the caller finished the manifest) removes manifest.json.tmp,
    as a failure while the manifest is written does."""
    out = tmp_path / "out"
    out.mkdir()
    sink = DirectorySink(out, compare_checksums=False, compare_json=False, delete=False)
    manifest_written = threading.Event()

    def failing() -> Iterator[bytes]:
        assert manifest_written.wait(30)  # held until the caller is done with the manifest
        raise failure
        yield b""  # a generator, as a store's stream is

    stored = StoredFile("a.pdf", "original", None, None, b"\0" * 32, 1, 0, 0o644)
    with pytest.raises(type(failure)), sink, sink.manifest() as manifest:
        sink.add_file("originals/a.pdf", stored, failing, checksum=None)
        manifest.write(b"[]")
        manifest_written.set()
    assert sorted(p.name for p in out.rglob("*")) == ["originals"]


def test_writeback_advice_is_given_per_file_and_a_refusal_costs_nothing(
    plain_view: SourceView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each document file's writeback is started once it is written (advice to the kernel);
    a kernel that refuses the advice changes nothing in the export."""
    want = tmp_path / "want"
    materialize(plain_view, want, ExportOptions())
    advised: list[int] = []

    def refusing(fd: int, offset: int, length: int, advice: int) -> None:
        assert (offset, length, advice) == (0, 0, os.POSIX_FADV_DONTNEED)
        advised.append(os.fstat(fd).st_size)
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(fsutil, "_FADVISE", refusing)
    out = tmp_path / "out"
    materialize(plain_view, out, ExportOptions())
    files = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert files == {p.relative_to(want): p.read_bytes() for p in want.rglob("*") if p.is_file()}
    documents = [p for p in out.rglob("*") if p.is_file() and not p.name.endswith(".json")]
    assert sorted(advised) == sorted(p.stat().st_size for p in documents)
