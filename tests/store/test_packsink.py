"""PackSink: appends reach the I/O thread in batches, in order, whatever their payload form."""

from __future__ import annotations

import os
from concurrent.futures import Future
from pathlib import Path

import blake3

from snapexport.store import packs
from snapexport.store.backends.local import LocalBackend
from snapexport.store.packsink import BATCH_CHUNKS, PackSink

KIB = 1 << 10


def _payloads(n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        data = os.urandom(10 * KIB + i)
        out.append((blake3.blake3(data).digest(), data))
    return out


def _sink(tmp_path: Path, pack_size: int) -> tuple[PackSink, Path]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    backend = LocalBackend(tmp_path / "store")
    return PackSink(tmp, backend, pack_size), tmp


def test_appends_wait_for_a_batch_then_land_in_order_across_packs(tmp_path: Path) -> None:
    sink, tmp = _sink(tmp_path, pack_size=100 * KIB)
    sink.max_queued_bytes = 64 << 20  # a batch closes at 64 chunks, not by bytes here
    chunks = _payloads(BATCH_CHUNKS - 1)
    for i, (cid, data) in enumerate(chunks):
        if i % 2:  # being compressed elsewhere: a future of it
            fut: Future[tuple[int, bytes]] = Future()
            fut.set_result((0, data))
            sink.append(cid, len(data), fut)
        else:  # stored as is: the value itself
            sink.append(cid, len(data), (0, data))
    # Nothing was handed to the I/O thread yet: no pack file has even been opened.
    assert sink.take_sealed() == [] and list(tmp.iterdir()) == []
    sink.seal()
    finished = sink.take_sealed(wait_all=True)
    sink.close()
    assert len(finished) == 7  # 63 chunks of ~10 KiB, sealed at 100 KiB
    entries = [e for f in finished for e in f.entries]
    assert [e.id for e in entries] == [cid for cid, _ in chunks]
    for f in finished:
        data = (tmp_path / "store" / packs.object_name(f.id)).read_bytes()
        for e in f.entries:
            assert blake3.blake3(data[e.offset : e.offset + e.length]).digest() == e.id


def _saved(tmp_path: Path) -> int:
    return sum(1 for p in (tmp_path / "store").rglob("*") if p.is_file())


def test_a_full_batch_goes_without_waiting_for_a_seal(tmp_path: Path) -> None:
    """close() runs what the I/O thread was handed and nothing else: 63 appends leave no
    pack, the 64th hands all of them over and the full packs are saved."""
    for count, saved in ((BATCH_CHUNKS - 1, 0), (BATCH_CHUNKS, 6)):
        folder = tmp_path / str(count)
        folder.mkdir()
        sink, _ = _sink(folder, pack_size=100 * KIB)
        sink.max_queued_bytes = 64 << 20
        for cid, data in _payloads(count):
            sink.append(cid, len(data), (0, data))
        sink.close()
        assert _saved(folder) == saved, count


def test_a_batch_closes_at_a_quarter_of_what_may_be_queued(tmp_path: Path) -> None:
    sink, _ = _sink(tmp_path, pack_size=100 * KIB)
    sink.max_queued_bytes = 4 * 105 * KIB  # a batch closes once it holds 105 KiB
    for cid, data in _payloads(11):  # 10 chunks hold 100.4 KiB, the 11th tips it over
        sink.append(cid, len(data), (0, data))
    sink.close()
    assert _saved(tmp_path) == 1  # the first 10 made a full pack; the 11th waits in a new one
