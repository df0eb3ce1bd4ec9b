"""Property: whatever goes in through put_bytes/put_file comes back byte for byte."""

from __future__ import annotations

import io

import blake3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapexport.errors import CorruptionError
from snapexport.store import Store

FIXTURE_OK = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _pseudo_random(seed: int, size: int) -> bytes:
    return blake3.blake3(seed.to_bytes(8, "little")).digest(length=size)


contents = st.one_of(
    st.binary(max_size=5000),
    st.builds(_pseudo_random, st.integers(0, 2**32), st.integers(0, 120_000)),
    # repetitive, compressible, and sharing pieces with other examples
    st.lists(
        st.sampled_from([b"a" * 700, b"paperless ", _pseudo_random(1, 3000)]), max_size=60
    ).map(b"".join),
)


@FIXTURE_OK
@given(data=contents, as_file=st.booleans(), compressible=st.sampled_from([None, True, False]))
def test_put_read_round_trip(
    tiny_store: Store, data: bytes, as_file: bool, compressible: bool | None
) -> None:
    if as_file:
        ref = tiny_store.put_file(io.BytesIO(data), compressible=compressible)
    else:
        ref = tiny_store.put_bytes(data, compressible=compressible)
    assert ref.size == len(data)
    assert ref.id == blake3.blake3(data).digest()
    assert tiny_store.has_blob(ref.id)
    # read_blob flushes a pending blob first; the bytes must come back exactly
    assert b"".join(tiny_store.read_blob(ref.id)) == data


def test_multi_pack_blob_survives_reopen(tiny_store: Store) -> None:
    data = _pseudo_random(7, 300_000)
    ref = tiny_store.put_bytes(data)
    tiny_store.close()
    with Store.open(tiny_store.root) as store:
        rows = store.catalog.conn.execute(
            "SELECT count(DISTINCT c.pack) FROM blob_chunks bc JOIN chunks c ON c.id = bc.chunk"
            " WHERE bc.blob = ?",
            (ref.id,),
        ).fetchone()
        assert rows[0] > 5  # really spread over many packs
        assert b"".join(store.read_blob(ref.id)) == data


def test_empty_blob(tiny_store: Store) -> None:
    ref = tiny_store.put_bytes(b"")
    assert ref.size == 0
    assert list(tiny_store.read_blob(ref.id)) == []


def test_same_content_stored_once(tiny_store: Store) -> None:
    data = _pseudo_random(3, 50_000)
    tiny_store.put_bytes(data)
    tiny_store.flush()
    before = tiny_store.stats
    tiny_store.put_file(io.BytesIO(data))
    tiny_store.flush()
    after = tiny_store.stats
    assert after.new_chunks == before.new_chunks
    assert after.bytes_stored == before.bytes_stored
    assert after.dedup_chunks > before.dedup_chunks


def test_incompressible_chunks_are_stored_raw(tiny_store: Store) -> None:
    tiny_store.put_bytes(_pseudo_random(4, 40_000))
    tiny_store.put_bytes(b"text " * 8000)
    tiny_store.flush()
    codecs = dict(
        tiny_store.catalog.conn.execute("SELECT codec, count(*) FROM chunks GROUP BY codec")
    )
    assert codecs.get(0, 0) > 0 and codecs.get(1, 0) > 0


def test_blobs_located_together_read_back_and_others_still_read(tiny_store: Store) -> None:
    """``locate_blobs`` answers for many blobs at once (a pending one is flushed first, an
    unknown one is absent); ``read_blob(located=...)`` reads what it holds and asks the
    catalog for any other blob, so a stale or partial map never costs a read."""
    datas = [_pseudo_random(i, 40_000 * i) for i in range(1, 5)]  # one chunk to several
    refs = [tiny_store.put_bytes(d) for d in datas]
    empty = tiny_store.put_bytes(b"")
    unknown = blake3.blake3(b"never stored").digest()
    located = tiny_store.locate_blobs([r.id for r in refs[:3]] + [empty.id, unknown])
    assert set(located) == {refs[0].id, refs[1].id, refs[2].id, empty.id}
    assert located[empty.id] == []
    assert len(located[refs[2].id]) > 1 and all(row for _, row in located[refs[2].id])
    for ref, data in zip(refs, datas, strict=True):  # the last one is not in the map
        assert b"".join(tiny_store.read_blob(ref.id, ahead=False, located=located)) == data
    assert list(tiny_store.read_blob(empty.id, located=located)) == []
    with pytest.raises(CorruptionError, match=unknown.hex()):
        tiny_store.read_blob(unknown, located=located)
