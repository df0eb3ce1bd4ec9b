"""Record texts: a dictionary trained once the catalog holds enough, every text still exact."""

from __future__ import annotations

import json
import random
from pathlib import Path

import blake3
import zstandard

from snapexport.catalog import recordtext
from snapexport.catalog.db import Catalog


def _texts(n: int) -> list[bytes]:
    rnd = random.Random(7)
    out = []
    for pk in range(n):
        record = {
            "model": "documents.document",
            "pk": pk,
            "fields": {
                "title": f"Invoice {rnd.randrange(10**6)} {rnd.choice(['paid', 'open', 'due'])}",
                "correspondent": rnd.randrange(40),
                "tags": sorted(rnd.sample(range(30), 3)),
                "checksum": blake3.blake3(str(pk).encode()).hexdigest()[:32],
                "created": f"2025-0{rnd.randrange(1, 10)}-1{rnd.randrange(10)}T10:00:00Z",
            },
        }
        out.append(json.dumps(record, indent=2, ensure_ascii=False).encode())
    return out


def _fill(catalog: Catalog, texts: list[bytes]) -> None:
    cctx = catalog.record_texts.compressor()
    with catalog.transaction() as conn:
        conn.executemany(
            "INSERT INTO record_data (hash, data) VALUES (?, ?)",
            [(blake3.blake3(t).digest(), cctx.compress(t)) for t in texts],
        )


def _stored(catalog: Catalog) -> dict[bytes, bytes]:
    return {
        bytes(h): bytes(d) for h, d in catalog.conn.execute("SELECT hash, data FROM record_data")
    }


def test_dictionary_trained_once_enough_texts_and_every_text_exact(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "c.sqlite", create=True)
    texts = _texts(recordtext.TRAIN_AT - 1)
    _fill(catalog, texts)
    assert catalog.record_texts.train_if_due() is None  # not enough yet
    before = sum(len(d) for d in _stored(catalog).values())
    _fill(catalog, _texts(recordtext.TRAIN_AT + 500)[len(texts) :])
    texts = _texts(recordtext.TRAIN_AT + 500)
    dict_id = catalog.record_texts.train_if_due()
    assert dict_id
    assert catalog.record_texts.train_if_due() is None  # once
    stored = _stored(catalog)
    for t in texts:
        data = stored[blake3.blake3(t).digest()]
        assert zstandard.get_frame_parameters(data).dict_id == dict_id
        assert recordtext.decode_text(data) == t.decode()
    per_text = sum(len(d) for d in stored.values()) / len(texts)
    assert per_text < 0.6 * before / (recordtext.TRAIN_AT - 1)  # the point of it
    # new texts use the dictionary; the journal logged every rewritten text and the dict
    new = b'{"model": "documents.note", "pk": 1}'
    frame = catalog.record_texts.compressor().compress(new)
    assert zstandard.get_frame_parameters(frame).dict_id == dict_id
    logged = dict(
        catalog.conn.execute("SELECT tbl, count(*) FROM journal_log GROUP BY tbl").fetchall()
    )
    assert logged["record_dicts"] == 1 and logged["record_data"] >= len(texts)
    catalog.close()
    # a catalog opened later (another process) registers the dictionary on open
    recordtext._decoders.clear()
    recordtext._dicts.clear()
    again = Catalog.open(tmp_path / "c.sqlite")
    data = _stored(again)[blake3.blake3(texts[0]).digest()]
    assert recordtext.decode_text(data) == texts[0].decode()
    again.close()


def _staged(catalog: Catalog, texts: list[bytes]) -> None:
    catalog.conn.execute("CREATE TEMP TABLE staged (hash BLOB PRIMARY KEY, data BLOB)")
    catalog.conn.executemany(
        "INSERT INTO temp.staged VALUES (?, ?)", [(blake3.blake3(t).digest(), t) for t in texts]
    )


def test_staged_texts_train_the_first_dictionary_and_are_compressed_once(
    tmp_path: Path,
) -> None:
    catalog = Catalog.open(tmp_path / "c.sqlite", create=True)
    texts = _texts(recordtext.TRAIN_AT + 20)
    held, new = texts[:20], texts[20:]
    _fill(catalog, held)  # a catalog with a few texts and no dictionary yet
    _staged(catalog, new)
    with catalog.transaction() as conn:
        cctx = recordtext.staged_compressor(conn, "temp.staged")
        conn.executemany(
            "INSERT INTO record_data (hash, data) VALUES (?, ?)",
            [(blake3.blake3(t).digest(), cctx.compress(t)) for t in new],
        )
    (dict_id,) = [r[0] for r in catalog.conn.execute("SELECT id FROM record_dicts")]
    stored = _stored(catalog)
    for t in texts:  # the held ones were recompressed with it too
        data = stored[blake3.blake3(t).digest()]
        assert zstandard.get_frame_parameters(data).dict_id == dict_id
        assert recordtext.decode_text(data) == t.decode()
    assert catalog.record_texts.train_if_due() is None  # trained already
    with catalog.transaction() as conn:  # later texts use it; no second dictionary
        again = recordtext.staged_compressor(conn, "temp.staged")
    assert zstandard.get_frame_parameters(again.compress(new[0])).dict_id == dict_id
    assert catalog.conn.execute("SELECT count(*) FROM record_dicts").fetchone()[0] == 1
    catalog.close()


def test_too_few_staged_texts_train_nothing(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "c.sqlite", create=True)
    texts = _texts(recordtext.TRAIN_AT + 10)
    _fill(catalog, texts[:20])  # held and staged reach TRAIN_AT; the staged alone do not
    texts = texts[20:]
    _staged(catalog, texts)
    with catalog.transaction() as conn:
        cctx = recordtext.staged_compressor(conn, "temp.staged")
    assert zstandard.get_frame_parameters(cctx.compress(texts[0])).dict_id == 0
    assert catalog.conn.execute("SELECT count(*) FROM record_dicts").fetchone()[0] == 0
    catalog.close()
