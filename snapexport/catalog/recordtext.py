"""Record texts in the catalog: zstd frames, with a dictionary trained on the site's own texts.

A record's JSON text (about 750 bytes on the demo) compresses poorly on its own: every text
repeats the same keys and layout. A snapshot stages its new texts plain and compresses each
once, as it joins the catalog (``staged_compressor``): with the catalog's dictionary; or,
when the catalog has none yet and the snapshot alone adds ``TRAIN_AT`` texts (a first
snapshot), with one trained there and then on a sample of them, stored in ``record_dicts``
(journaled like the texts, so a rebuilt catalog has it) with the few texts already held
recompressed; else without one. A catalog that grows to ``TRAIN_AT`` texts a few at a time
is trained on close instead (``train_if_due``), every text recompressed. Every frame names
its dictionary in its header (zstd's dictionary id; 0 for none), so any text decodes with
the dictionary it was written with.

Dictionaries are registered process-wide by id when a catalog is opened (they are small
and few), so ``decode_text`` needs no connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import zstandard

TRAIN_AT = 1000  # texts a catalog holds before a dictionary is worth training
SAMPLE = 4000  # texts the dictionary is trained on (spread over the hash space)
DICT_SIZE = 64 * 1024
LEVEL = 6
# COVER's segment size and d-mer length, given rather than searched for: zstd's search tries
# dozens of pairs (0.39 s CPU on 4,000 demo texts; 1.3 s of a 3,000-document first snapshot
# under load), while this pair trains in 0.06 s and compresses the same texts as well
# (843,073 against 844,397 bytes for 5.3 MB of texts, 2026-12-06).
COVER_K, COVER_D = 2048, 6
_BATCH = 1000

_plain = zstandard.ZstdDecompressor()
_decoders: dict[int, zstandard.ZstdDecompressor] = {}
_dicts: dict[int, zstandard.ZstdCompressionDict] = {}


def _register(dict_id: int, raw: bytes) -> zstandard.ZstdCompressionDict:
    d = zstandard.ZstdCompressionDict(raw)
    _dicts[dict_id] = d
    _decoders[dict_id] = zstandard.ZstdDecompressor(dict_data=d)
    return d


def load(conn: sqlite3.Connection) -> None:
    """Register the catalog's dictionaries (a catalog before schema 2 has none)."""
    try:
        rows = conn.execute("SELECT id, dict FROM record_dicts").fetchall()
    except sqlite3.OperationalError:
        return
    for dict_id, raw in rows:
        if dict_id not in _decoders:
            _register(int(dict_id), bytes(raw))


def decode_text(data: bytes) -> str:
    """The plain text of a stored record text."""
    dict_id = zstandard.get_frame_parameters(data).dict_id
    if dict_id == 0:
        return _plain.decompress(data).decode("utf-8")
    decoder = _decoders.get(dict_id)
    if decoder is None:
        raise zstandard.ZstdError(f"record text needs dictionary {dict_id}, not in the catalog")
    return decoder.decompress(data).decode("utf-8")


def compressor(conn: sqlite3.Connection) -> zstandard.ZstdCompressor:
    """The compressor new record texts are stored with (the newest dictionary, if any)."""
    # a catalog trains one dictionary (train_if_due); should it ever hold more, any will do
    row = conn.execute("SELECT id, dict FROM record_dicts ORDER BY id LIMIT 1").fetchone()
    if row is None:
        return zstandard.ZstdCompressor(level=LEVEL)
    d = _dicts.get(int(row[0])) or _register(int(row[0]), bytes(row[1]))
    return zstandard.ZstdCompressor(level=LEVEL, dict_data=d)


def staged_compressor(conn: sqlite3.Connection, staged: str) -> zstandard.ZstdCompressor:
    """The compressor for the plain texts of table ``staged`` (``hash``, ``data``) about to
    join the catalog; may train and store the catalog's first dictionary (see the module's
    docstring). The caller holds the write transaction."""
    if conn.execute("SELECT 1 FROM record_dicts LIMIT 1").fetchone() is not None:
        return compressor(conn)
    held = conn.execute("SELECT count(*) FROM record_data").fetchone()[0]
    new = conn.execute(f"SELECT count(*) FROM {staged}").fetchone()[0]
    if new < TRAIN_AT or held >= TRAIN_AT:  # too few to learn from, or train_if_due's case
        return zstandard.ZstdCompressor(level=LEVEL)
    rows = conn.execute(f"SELECT data FROM {staged} ORDER BY hash")
    trained = _train(conn, (bytes(data) for (data,) in rows), new)
    if trained is None:
        return zstandard.ZstdCompressor(level=LEVEL)
    _recompress_held(conn, trained[1])  # fewer than TRAIN_AT texts: quick
    return trained[1]


def train_if_due(conn: sqlite3.Connection) -> int | None:
    """Train the catalog's first dictionary once it holds ``TRAIN_AT`` texts, and store
    every text with it (one transaction; the caller holds none). Returns its id, if new."""
    if conn.execute("SELECT 1 FROM record_dicts LIMIT 1").fetchone() is not None:
        return None
    total = conn.execute("SELECT count(*) FROM record_data").fetchone()[0]
    if total < TRAIN_AT:
        return None
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute("SELECT data FROM record_data ORDER BY hash")
        trained = _train(conn, (decode_text(bytes(data)).encode() for (data,) in rows), total)
        if trained is not None:
            _recompress_held(conn, trained[1])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if trained is None:
        return None
    # every text was rewritten once: give the freed pages back (the file would otherwise
    # keep its old size; about a second at 5,000 documents, once in a catalog's life)
    conn.execute("VACUUM")
    return trained[0]


def _train(
    conn: sqlite3.Connection, texts: Iterator[bytes], count: int
) -> tuple[int, zstandard.ZstdCompressor] | None:
    """Train a dictionary on every k-th of ``count`` plain texts (given in hash order:
    hashes are uniformly random, so the sample spreads over the site), store it in the
    caller's transaction and return its id and a compressor using it; None when there is
    too little variety to learn from (the catalog then stays without)."""
    step = max(1, count // SAMPLE)
    sample = [text for i, text in enumerate(texts) if i % step == 0]
    try:
        trained = zstandard.train_dictionary(DICT_SIZE, sample, level=LEVEL, k=COVER_K, d=COVER_D)
    except zstandard.ZstdError:
        return None
    dict_id, raw = trained.dict_id(), trained.as_bytes()
    conn.execute("INSERT INTO record_dicts (id, dict) VALUES (?, ?)", (dict_id, raw))
    return dict_id, zstandard.ZstdCompressor(level=LEVEL, dict_data=_register(dict_id, raw))


def _recompress_held(conn: sqlite3.Connection, cctx: zstandard.ZstdCompressor) -> None:
    """Store every text the catalog holds with ``cctx`` (in the caller's transaction)."""
    last = b""
    while True:
        rows = conn.execute(
            "SELECT hash, data FROM record_data WHERE hash > ? ORDER BY hash LIMIT ?",
            (last, _BATCH),
        ).fetchall()
        if not rows:
            return
        conn.executemany(
            "UPDATE record_data SET data = ? WHERE hash = ?",
            [(cctx.compress(decode_text(bytes(data)).encode()), h) for h, data in rows],
        )
        last = bytes(rows[-1][0])


class RecordTexts:
    """Record-text compression of one open catalog."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def compressor(self) -> zstandard.ZstdCompressor:
        return compressor(self._conn)

    def train_if_due(self) -> int | None:
        return train_if_due(self._conn)
