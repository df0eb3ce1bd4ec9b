"""Export containers: a folder and a zip of the same export read alike; bad paths refused."""

from __future__ import annotations

import os
import stat
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from snapexport.exportformat.containers import (
    ContainerError,
    DirectoryContainer,
    ZipContainer,
    open_container,
    read_metadata,
)

FILES = {
    "manifest.json": b"[\n]",
    "metadata.json": b'{"version": "3.0.5"}',
    "originals/a b.pdf": b"%PDF-1.4 a",
    "originals/sub/c.pdf": b"%PDF-1.4 c" * 1000,
    "json/a b-manifest.json": b"[]",
    "json/sub/c-manifest.json": b"[]",
}
MOMENT = datetime(2025, 3, 4, 5, 6, 8, tzinfo=UTC)


def make_folder(root: Path) -> Path:
    for name, data in FILES.items():
        path = root / "folder" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (MOMENT.timestamp(), MOMENT.timestamp()))
        path.chmod(0o640)
    return root / "folder"


def make_zip(root: Path, extra: dict[str, bytes] | None = None) -> Path:
    path = root / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("originals/", (1980, 1, 1, 0, 0, 0)), b"")
        for name, data in {**FILES, **(extra or {})}.items():
            info = zipfile.ZipInfo(name, MOMENT.timetuple()[:6])
            info.external_attr = (stat.S_IFREG | 0o640) << 16
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_members_names_and_bytes(tmp_path: Path, kind: str) -> None:
    path = make_folder(tmp_path) if kind == "folder" else make_zip(tmp_path)
    with open_container(path) as container:
        assert isinstance(container, DirectoryContainer if kind == "folder" else ZipContainer)
        assert container.is_zip == (kind == "zip")
        assert sorted(container.names()) == sorted(FILES)
        for name, data in FILES.items():
            (member,) = container.members(name)
            assert member.name == name and member.size == len(data)
            with member.open() as f:
                assert f.read() == data
            st = member.stat_result() if member.opener else os.stat(member.abs_path)
            assert st.st_size == len(data) and stat.S_IMODE(st.st_mode) == 0o640
            assert st.st_mtime_ns == int(MOMENT.timestamp()) * 10**9
        assert container.members("originals") == []  # a folder is not a member
        assert container.members("nope") == []
        assert container.has_folder("json") and not container.has_folder("thumbnails")
        assert [m.name for m in container.split_manifests()] == [
            "json/a b-manifest.json",
            "json/sub/c-manifest.json",
        ]
        with container.local_copy("originals/sub/c.pdf") as f:
            f.seek(5)
            assert f.read(3) == b"1.4"
        assert read_metadata(container) == {"version": "3.0.5"}


def test_zip_entry_times_are_read_in_the_given_zone(tmp_path: Path) -> None:
    path = make_zip(tmp_path)
    plus_two = timezone(timedelta(hours=2))
    with open_container(path, plus_two) as container:
        (member,) = container.members("manifest.json")
    assert member.mtime_ns == int((MOMENT - timedelta(hours=2)).timestamp()) * 10**9


def test_zip_with_two_entries_under_one_name_keeps_both(tmp_path: Path) -> None:
    path = make_zip(tmp_path)
    with zipfile.ZipFile(path, "a") as zf, pytest.warns(UserWarning, match="Duplicate"):
        zf.writestr("originals/a b.pdf", b"second")
    with open_container(path) as container:
        members = container.members("originals/a b.pdf")
        assert [m.size for m in members] == [len(FILES["originals/a b.pdf"]), 6]
        assert list(container.names()).count("originals/a b.pdf") == 1


def test_bad_paths_are_refused_with_their_reason(tmp_path: Path) -> None:
    with pytest.raises(ContainerError, match="no such file or folder"):
        open_container(tmp_path / "missing").__enter__()
    (tmp_path / "notzip").write_bytes(b"hello")
    with pytest.raises(ContainerError, match="neither an export folder nor a zip"):
        open_container(tmp_path / "notzip").__enter__()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ContainerError, match=r"no manifest\.json"):
        open_container(empty).__enter__()
    folder = make_folder(tmp_path)
    (folder / "metadata.json").write_bytes(b"{broken")
    with (
        open_container(folder) as container,
        pytest.raises(ContainerError, match="not readable JSON"),
    ):
        read_metadata(container)


def test_zip_is_closed_after_use(tmp_path: Path) -> None:
    path = make_zip(tmp_path)
    with open_container(path) as container:
        assert isinstance(container, ZipContainer)
    assert container._zip is None
    path.unlink()  # nothing holds it open
