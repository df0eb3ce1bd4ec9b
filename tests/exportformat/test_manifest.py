"""manifest.json's framing: the one writer and the one streaming reader, against each other
and against the real exporter's manifests."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
from collections.abc import Callable
from typing import IO, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapexport.exportformat.manifest import (
    ManifestError,
    ManifestSplitter,
    ManifestWriter,
    append_keys,
    dumps,
    read_manifest,
    split_manifest,
)
from tests.sitetools import GOLDEN

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=30)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
records = st.fixed_dictionaries(
    {"model": st.text(min_size=1, max_size=20), "pk": st.integers() | st.text(max_size=10)},
    optional={"fields": st.dictionaries(st.text(max_size=10), values, max_size=5)},
)


def written(texts: list[str]) -> bytes:
    out = io.BytesIO()
    writer = ManifestWriter(out)
    for text in texts:
        writer.write(text)
    writer.close()
    return out.getvalue()


def opener(data: bytes) -> Callable[[], contextlib.AbstractContextManager[IO[bytes]]]:
    return lambda: contextlib.nullcontext(io.BytesIO(data))


def split_in_pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=200, deadline=None)
@given(st.lists(records, max_size=8), st.lists(st.integers(min_value=0), max_size=12))
def test_round_trip_in_any_pieces(items: list[dict[str, Any]], cuts: list[int]) -> None:
    texts = [dumps(r) for r in items]
    data = written(texts)
    splitter = ManifestSplitter()
    got = []
    for piece in split_in_pieces(data, cuts):
        got += splitter.feed(piece)
    got += splitter.close()
    assert not splitter.bad
    assert [g.text.decode("utf-8") for g in got] == texts
    for g in got:
        assert g.offset is not None and data[g.offset : g.offset + len(g.text)] == g.text
    assert json.loads(data) == items  # the framing is a JSON list of the records


@settings(max_examples=100, deadline=None)
@given(st.lists(records, min_size=1, max_size=6))
def test_other_framing_is_parsed_whole(items: list[dict[str, Any]]) -> None:
    """A manifest another writer made (one line) reads as the same records, re-encoded."""
    data = json.dumps(items).encode("utf-8")
    got = list(read_manifest(opener(data), "manifest.json"))
    assert [json.loads(g.text) for g in got] == items
    assert all(g.offset is None and g.text.decode() == dumps(json.loads(g.text)) for g in got)


def test_broken_after_some_records_gives_each_record_once() -> None:
    texts = [dumps({"model": "a.b", "pk": n, "fields": {}}) for n in range(3)]
    # valid JSON, but a blank line before the third record breaks the exporter's framing
    data = f"[{texts[0]},\n{texts[1]},\n\n{texts[2]}\n]".encode()
    got = list(read_manifest(opener(data), "m"))
    assert [g.text.decode() for g in got] == texts
    assert [g.offset is None for g in got] == [False, False, True]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"[{\n  nope", "not valid JSON"), (b'{"model": "x"}', "not a list of records")],
)
def test_not_a_manifest(data: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        list(read_manifest(opener(data), "m"))


def test_empty_manifest() -> None:
    assert written([]) == b"[\n]"
    assert list(read_manifest(opener(b"[\n]"), "m")) == []


@pytest.mark.parametrize("variant", ["plain", "split", "passphrase"])
def test_reads_the_real_exporters_manifest_framed(variant: str) -> None:
    data = (GOLDEN / variant / "manifest.json").read_bytes()
    got = list(read_manifest(opener(data), "manifest.json"))
    assert got and all(g.offset is not None for g in got)
    assert [json.loads(g.text) for g in got] == json.loads(data)
    assert written([g.text.decode("utf-8") for g in got]) == data  # the writer's bytes too


def test_append_keys_and_split_manifest() -> None:
    text = dumps({"model": "documents.document", "pk": 1, "fields": {"title": "é"}})
    keyed = append_keys(text, [("__exported_file_name__", "a é.pdf")])
    assert json.loads(keyed)["__exported_file_name__"] == "a é.pdf"
    assert keyed == dumps({**json.loads(text), "__exported_file_name__": "a é.pdf"})
    assert split_manifest([text, keyed]) == dumps([json.loads(text), json.loads(keyed)])
    assert split_manifest([]) == "[]" == dumps([])
    with pytest.raises(ValueError, match="not an indented JSON object"):
        append_keys("{}", [("k", "v")])
