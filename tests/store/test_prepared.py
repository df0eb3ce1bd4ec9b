"""``prepare`` / ``put_prepared``: a blob cut, hashed and looked up on another thread.

``prepare`` asks the catalog which chunks it holds on a connection of its own, before the
writer stores the files ahead of it; ``put_prepared`` must then still see the chunks the
writer committed in between (its pack commits are remembered), or ask the catalog itself
once too many commits went by. Either way a chunk is stored once. In a store whose catalog
indexed nothing before the writer, the writer's filter of committed chunks decides which
ids are worth asking about; a store with chunks from earlier writers is always asked.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import blake3

from snapexport.store import Store
from snapexport.store.prepared import RECENT_COMMITS, ChunkFilter


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


def _chunk_ids(store: Store, data: bytes) -> set[bytes]:
    return {store.ids.of(c) for c in store.chunker.chunks_of(data)}


def test_the_filter_holds_every_id_added_and_few_others() -> None:
    added = [os.urandom(32) for _ in range(20_000)]
    others = [os.urandom(32) for _ in range(20_000)]
    f = ChunkFilter()
    assert not any(f.may_hold(i) for i in added)
    for i in added:
        f.add(i)
    assert all(f.may_hold(i) for i in added)
    # 4 probes into 8 Mi bits holding 20,000 ids: about one false "maybe" in 10^9
    assert sum(f.may_hold(i) for i in others) <= 2


def test_a_new_store_finds_chunks_committed_long_before_prepare(tiny_store: Store) -> None:
    tiny_store.prepare(_data(5, 3_000))  # the first query: the catalog is empty
    data = _data(6, 30_000)
    tiny_store.put_bytes(data)
    tiny_store.flush()
    for seed in range(RECENT_COMMITS + 2):  # beyond what the commit log remembers
        tiny_store.put_bytes(_data(200 + seed, 20_000))
        tiny_store.flush()
    prepared = tiny_store.prepare(data + _data(7, 4_000))
    shared = _chunk_ids(tiny_store, data) & {cid for _, cid in prepared.chunks}
    assert len(shared) >= 10  # all but the chunks cut across the new tail
    assert prepared.known == shared
    before = _packed_chunks(tiny_store)
    tiny_store.put_prepared(prepared)
    tiny_store.flush()
    assert _packed_chunks(tiny_store) - before == len(prepared.chunks) - len(shared)


def test_a_store_with_chunks_before_the_writer_asks_the_catalog(tmp_path: Path) -> None:
    from store_testing import TINY_CHUNKS, TINY_PACK

    data = _data(8, 30_000)
    with Store.init(tmp_path / "store", pack_size=TINY_PACK, chunker=TINY_CHUNKS) as first:
        first.put_bytes(data)
        first.flush()
    with Store.open(tmp_path / "store", write=True) as second:
        prepared = second.prepare(data)  # this writer's filter is empty: only a query knows
        assert prepared.known == _chunk_ids(second, data)
        second.put_prepared(prepared)
        second.flush()
        assert second.stats.new_chunks == 0
