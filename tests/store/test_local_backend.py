"""The folder backend lists what an object store would list: finished objects only."""

from __future__ import annotations

from pathlib import Path

from snapexport.fsutil import atomic_writer
from snapexport.store.backend import LocalBackend


def test_a_write_in_progress_is_not_listed(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    backend.save_bytes("locks/done.json", b"{}")
    (tmp_path / "locks").mkdir(exist_ok=True)
    with atomic_writer(tmp_path / "locks" / "writing.json") as f:
        f.write(b"{")
        # The temporary file exists now, under the same folder as the object.
        assert any(p.name.endswith(".tmp") for p in (tmp_path / "locks").iterdir())
        assert [name for name, _ in backend.list("locks/")] == ["locks/done.json"]
        assert [name for name, _ in backend.list("")] == ["locks/done.json"]
    assert [name for name, _ in backend.list("locks/")] == ["locks/done.json", "locks/writing.json"]
