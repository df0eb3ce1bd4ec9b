"""The directory sink on its own: what its writer threads leave behind when they fail."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

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
