"""The pack format round-trips, and damage to its framing is detected."""

from __future__ import annotations

from pathlib import Path

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapexport.errors import CorruptionError
from snapexport.store import packs


@settings(deadline=None)  # a loaded machine must not fail a property test
@given(payloads=st.lists(st.binary(max_size=300), max_size=20))
def test_pack_round_trip(tmp_path_factory: pytest.TempPathFactory, payloads: list[bytes]) -> None:
    tmp = tmp_path_factory.mktemp("packs")
    writer = packs.PackWriter(tmp)
    for i, p in enumerate(payloads):
        writer.add(blake3.blake3(p).digest(), i % 2, len(p) + i, p)
    done = writer.finish()
    data = done.path.read_bytes()
    assert done.id == blake3.blake3(data).hexdigest()
    assert len(data) == done.size
    entries = packs.parse_pack(data)
    assert entries == done.entries
    for e, p in zip(entries, payloads, strict=True):
        assert data[e.offset : e.offset + e.length] == p


def _pack(tmp: Path) -> bytes:
    writer = packs.PackWriter(tmp)
    writer.add(b"\1" * 32, 0, 5, b"hello")
    return writer.finish().path.read_bytes()


def test_truncated_pack_is_rejected(tmp_path: Path) -> None:
    data = _pack(tmp_path)
    for cut in (1, 5, len(data) - 8):
        with pytest.raises(CorruptionError):
            packs.parse_pack(data[:-cut])


def test_foreign_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(CorruptionError):
        packs.parse_pack(b"not a pack at all, just some bytes in a file")


def test_object_names() -> None:
    pid = "ab" + "0" * 62
    assert packs.object_name(pid) == f"packs/ab/{pid}"
    assert packs.pack_id_of(packs.object_name(pid)) == pid
    assert packs.pack_id_of("packs/ab/readme.txt") is None
    assert packs.pack_id_of(f"packs/cd/{pid}") is None


def test_abort_removes_temp_file(tmp_path: Path) -> None:
    writer = packs.PackWriter(tmp_path)
    writer.add(b"\2" * 32, 0, 3, b"abc")
    writer.abort()
    assert list(tmp_path.iterdir()) == []
