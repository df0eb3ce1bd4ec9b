"""``prepare`` / ``put_prepared``: a blob cut, hashed and looked up on another thread.

``prepare`` asks the catalog which chunks it holds on a connection of its own, before the
writer stores the files ahead of it; ``put_prepared`` must then still see the chunks the
writer committed in between (its pack commits are remembered), or ask the catalog itself
once too many commits went by. Either way a chunk is stored once.
"""

from __future__ import annotations

import threading

import blake3

from snapexport.store import Store
from snapexport.store.prepared import RECENT_COMMITS


def _data(seed: int, size: int) -> bytes:
    return blake3.blake3(seed.to_bytes(8, "little")).digest(length=size)


def _packed_chunks(store: Store) -> int:
    return store.stats.new_chunks


def test_a_chunk_committed_after_prepare_is_not_stored_again(tiny_store: Store) -> None:
    data = _data(1, 40_000)
    prepared = tiny_store.prepare(data)
    assert prepared.seen_commits is not None and not prepared.known
    tiny_store.put_bytes(data)  # the same content, committed by the writer meanwhile
    tiny_store.flush()
    before = _packed_chunks(tiny_store)
    ref = tiny_store.put_prepared(prepared)
    tiny_store.flush()
    assert _packed_chunks(tiny_store) == before  # every chunk was known: nothing stored
    assert ref.id == tiny_store.put_bytes(data).id
    assert b"".join(tiny_store.read_blob(ref.id)) == data


def test_too_many_commits_since_prepare_ask_the_catalog(tiny_store: Store) -> None:
    shared = _data(2, 30_000)
    prepared = tiny_store.prepare(shared)
    tiny_store.put_bytes(shared)
    tiny_store.flush()
    for seed in range(RECENT_COMMITS + 2):  # push the commit of `shared` out of memory
        tiny_store.put_bytes(_data(100 + seed, 20_000))
        tiny_store.flush()
    before = _packed_chunks(tiny_store)
    tiny_store.put_prepared(prepared)
    tiny_store.flush()
    assert _packed_chunks(tiny_store) == before


def test_known_chunks_come_from_the_catalog_at_prepare_time(tiny_store: Store) -> None:
    data = _data(3, 25_000)
    tiny_store.put_bytes(data)
    tiny_store.flush()
    prepared = tiny_store.prepare(data + _data(4, 5_000))
    assert prepared.known  # the shared leading chunks are in the catalog already
    assert prepared.known <= {cid for _, cid in prepared.chunks}


def test_prepare_on_two_threads_while_the_writer_stores(tiny_store: Store) -> None:
    blobs = [_data(10 + i % 7, 3_000 + 1_000 * (i % 5)) for i in range(60)]
    results: dict[int, object] = {}

    def worker(lane: int) -> None:
        for i in range(lane, len(blobs), 2):
            results[i] = tiny_store.prepare(blobs[i])

    threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refs = [tiny_store.put_prepared(results[i]) for i in range(len(blobs))]  # type: ignore[arg-type]
    tiny_store.flush()
    for ref, data in zip(refs, blobs, strict=True):
        assert b"".join(tiny_store.read_blob(ref.id)) == data
    # seven distinct contents of five sizes: each chunk stored once however it was prepared
    distinct = {b for b in blobs}
    expected = sum(len(list(tiny_store.chunker.chunks_of(b))) for b in distinct)
    assert tiny_store.stats.new_chunks <= expected
