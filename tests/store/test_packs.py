"""The pack format round-trips, and damage to its framing is detected."""

from __future__ import annotations

import itertools
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
    # format 3: the name covers the header, the index and the footer, not the payloads
    index_at = len(data) - packs.FOOTER_SIZE - len(payloads) * packs.ENTRY_SIZE
    assert done.id == blake3.blake3(data[:8] + data[index_at:]).hexdigest()
    assert done.id == packs.pack_id_of_bytes(data)
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


def test_a_format_2_pack_is_named_by_all_its_bytes(tmp_path: Path) -> None:
    writer = packs.PackWriter(tmp_path, version=2)
    writer.add(b"\3" * 32, 0, 5, b"hello")
    done = writer.finish()
    data = done.path.read_bytes()
    assert data[7] == data[-1] == 2
    assert done.id == blake3.blake3(data).hexdigest() == packs.pack_id_of_bytes(data)
    assert packs.parse_pack(data) == done.entries


@pytest.mark.parametrize("version", [2, 3])
def test_the_name_is_the_same_however_the_bytes_are_fed(tmp_path: Path, version: int) -> None:
    writer = packs.PackWriter(tmp_path, version=version)
    for i in range(6):
        writer.add(bytes([i]) * 32, 0, 1000, bytes([i]) * 1000)
    done = writer.finish()
    data = done.path.read_bytes()
    index_at = done.entries[-1].offset + done.entries[-1].length
    for cuts in ([0, len(data)], [0, 3, 8, 1008, 2500, index_at, len(data) - 4, len(data)]):
        h = packs.PackHash(version, index_at)
        for start, stop in itertools.pairwise(cuts):
            h.update(start, data[start:stop])
        assert h.hexdigest() == done.id, cuts


def test_what_a_format_3_name_covers(tmp_path: Path) -> None:
    data = bytearray(_pack(tmp_path))
    name = packs.pack_id_of_bytes(data)
    data[10] ^= 1  # a payload byte: caught by the chunk's id when read, not by the name
    assert packs.pack_id_of_bytes(data) == name
    for at in (3, 7, len(data) - 40, len(data) - 1):  # header, index, footer
        changed = bytearray(data)
        changed[at] ^= 1
        assert packs.pack_id_of_bytes(changed) != name, at
