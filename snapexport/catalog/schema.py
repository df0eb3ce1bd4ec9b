"""The catalog's SQLite schema, its version number and its forward migrations.

The catalog is the index of a store: which chunks live in which pack, which chunks make up a
blob, which snapshots exist and what each contains. docs/format.md describes every table.

Membership of records and files in snapshots is kept as *spans*: a row is one version of one
record (or file) and carries the sequence numbers ``born`` (first snapshot holding it) and
``died`` (first later snapshot no longer holding it; NULL while it is still current). A
snapshot with sequence number S holds exactly the spans with ``born <= S`` and
``died IS NULL OR died > S``. The catalog therefore grows with the number of *changes*, not
with snapshots times records, and "what changed between A and B" is an indexed range query.
"""

from __future__ import annotations

from snapexport.catalog.modelids import number_new, span_labels

SCHEMA_VERSION = 4

# The journaled tables (docs/format.md, "Store format 3") and the key columns of their rows.
# Schema 2 logs the key of every row these tables gain, change or lose into journal_log;
# schema 4 adds ``models`` (a delta lists it first: replay numbers labels before spans).
JOURNALED: dict[str, tuple[str, ...]] = {
    "models": ("id",),
    "blobs": ("id",),
    "blob_chunks": ("blob", "seq"),
    "snapshots": ("seq",),
    "record_data": ("hash",),
    "record_spans": ("id",),
    "file_spans": ("id",),
    "snapshot_missing": ("seq", "path"),
    "snapshot_orders": ("seq", "model"),
    "meta": ("key",),
    "record_dicts": ("id",),
}
JOURNALED_META = ("next_seq", "uncollected")  # the only meta keys a rebuild needs


def _journal_migration() -> str:
    """Schema 2: the catalog journal's log, its triggers, and the local journal tables."""
    parts = [
        """
    -- Keys of journaled rows changed since the last journal entry (docs/format.md).
    CREATE TABLE journal_log (
        n    INTEGER PRIMARY KEY,
        tbl  TEXT NOT NULL,
        k1   NOT NULL,
        k2
    );
    -- The store's journal entries since (and including) the newest checkpoint.
    CREATE TABLE journal_entries (
        gen     INTEGER PRIMARY KEY,
        kind    TEXT NOT NULL,          -- 'checkpoint' | 'delta'
        blob    BLOB NOT NULL,          -- body id
        header  BLOB NOT NULL,          -- header chunk id (= its blob id)
        size    INTEGER NOT NULL        -- plain body bytes
    );
    -- Every journal blob (bodies and headers) not yet collected; stats leaves them out.
    CREATE TABLE journal_blobs (id BLOB PRIMARY KEY) WITHOUT ROWID;
    -- zstd dictionaries record texts are compressed with (catalog/recordtext.py); a
    -- record_data frame names its dictionary by this id in its header (0: none).
    CREATE TABLE record_dicts (
        id      INTEGER PRIMARY KEY,    -- the dictionary's zstd id
        dict    BLOB NOT NULL           -- the dictionary as zstd writes it
    );
    """
    ]
    for table in JOURNALED:
        if table != "models":  # schema 4's
            parts += _journal_triggers(table)
    return "\n".join(parts)


def _journal_triggers(table: str) -> list[str]:
    """The triggers logging the keys of the rows ``table`` gains, changes or loses."""
    cols = JOURNALED[table]
    out = []
    when = ""
    if table == "meta":
        keys = ", ".join(f"'{k}'" for k in JOURNALED_META)
        when = "WHEN {row}.key IN (" + keys + ")"
    k2 = "{row}." + cols[1] if len(cols) > 1 else "NULL"
    log = f"INSERT INTO journal_log (tbl, k1, k2) VALUES ('{table}', {{row}}.{cols[0]}, {k2});"
    for event, row in (("INSERT", "NEW"), ("DELETE", "OLD"), ("UPDATE", "NEW")):
        out.append(
            f"CREATE TRIGGER journal_{table}_{event.lower()} AFTER {event} ON {table}"
            f" {when.format(row=row)} BEGIN {log.format(row=row)} END;"
        )
    # an update that changes a key also logs the old key
    old_key = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in cols)
    out.append(
        f"CREATE TRIGGER journal_{table}_rekey AFTER UPDATE ON {table}"
        f" WHEN {old_key} BEGIN {log.format(row='OLD')} END;"
    )
    return out


def _models_migration() -> str:
    """Schema 4: model labels as numbers (``models``) in record_spans and file_spans.

    Both tables are rebuilt (a column's declared type cannot change in place); the copies
    are not logged (the new tables have no triggers until the end), and neither are the
    ``models`` rows: a rebuild from older checkpoints and deltas numbers the same labels
    the same way (catalog/modelids.py). Only when the log already holds snapshot-level
    changes no delta carries yet (a writer that crashed before publishing) could the two
    numberings part; the next journal entry is then a checkpoint (meta
    ``checkpoint_due``).
    """
    return "\n".join(
        [
            """
    INSERT INTO meta (key, value) SELECT 'checkpoint_due', '4' WHERE EXISTS
        (SELECT 1 FROM journal_log WHERE tbl NOT IN ('blobs', 'blob_chunks'));
    CREATE TABLE models (
        id    INTEGER PRIMARY KEY,      -- what record_spans.model and file_spans.owner_model hold
        name  TEXT NOT NULL UNIQUE      -- 'app_label.modelname'
    );
    """,
            number_new(span_labels()) + ";",
            """
    CREATE TABLE record_spans_v4 (
        id          INTEGER PRIMARY KEY,
        model       INTEGER NOT NULL REFERENCES models(id),
        pk          TEXT NOT NULL,
        hash        BLOB NOT NULL REFERENCES record_data(hash),
        fingerprint BLOB,
        sort_key    BLOB NOT NULL,
        extra       TEXT,
        born        INTEGER NOT NULL,
        died        INTEGER
    );
    INSERT INTO record_spans_v4 (id, model, pk, hash, fingerprint, sort_key, extra, born, died)
        SELECT s.id, m.id, s.pk, s.hash, s.fingerprint, s.sort_key, s.extra, s.born, s.died
        FROM record_spans s JOIN models m ON m.name = s.model ORDER BY s.id;
    DROP TABLE record_spans;
    ALTER TABLE record_spans_v4 RENAME TO record_spans;
    CREATE UNIQUE INDEX record_spans_current ON record_spans(model, pk) WHERE died IS NULL;
    CREATE INDEX record_spans_order ON record_spans(model, sort_key);
    CREATE INDEX record_spans_born ON record_spans(born);
    CREATE INDEX record_spans_died ON record_spans(died) WHERE died IS NOT NULL;
    CREATE TABLE file_spans_v4 (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL,
        role        TEXT NOT NULL,
        owner_model INTEGER REFERENCES models(id),
        owner_pk    TEXT,
        blob        BLOB NOT NULL REFERENCES blobs(id),
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        mode        INTEGER NOT NULL,
        inode       INTEGER,
        checksum    TEXT,
        born        INTEGER NOT NULL,
        died        INTEGER
    );
    INSERT INTO file_spans_v4 (id, path, role, owner_model, owner_pk, blob, size, mtime_ns,
                               mode, inode, checksum, born, died)
        SELECT f.id, f.path, f.role, m.id, f.owner_pk, f.blob, f.size, f.mtime_ns, f.mode,
               f.inode, f.checksum, f.born, f.died
        FROM file_spans f LEFT JOIN models m ON m.name = f.owner_model ORDER BY f.id;
    DROP TABLE file_spans;
    ALTER TABLE file_spans_v4 RENAME TO file_spans;
    CREATE UNIQUE INDEX file_spans_current ON file_spans(path) WHERE died IS NULL;
    CREATE INDEX file_spans_born ON file_spans(born);
    CREATE INDEX file_spans_died ON file_spans(died) WHERE died IS NOT NULL;
    CREATE INDEX file_spans_checksum ON file_spans(substr(checksum, 1, 16));
    CREATE INDEX file_spans_owner ON file_spans(owner_pk) WHERE owner_pk IS NOT NULL;
    """,
            *_journal_triggers("models"),
            *_journal_triggers("record_spans"),
            *_journal_triggers("file_spans"),
        ]
    )


# Each entry brings the schema from version i to i+1 (index 0 creates version 1).
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    -- One row per pack file that is durable in the store.
    CREATE TABLE packs (
        id      TEXT PRIMARY KEY,       -- hex BLAKE3 of the whole pack file = its object name
        size    INTEGER NOT NULL,       -- bytes of the pack file
        chunks  INTEGER NOT NULL,       -- number of chunk entries in the pack
        created TEXT NOT NULL           -- ISO-8601 UTC
    );

    -- Where each chunk lives. id = BLAKE3 (keyed when the store is encrypted) of the plain bytes.
    CREATE TABLE chunks (
        id      BLOB PRIMARY KEY,       -- 32 bytes
        pack    TEXT NOT NULL REFERENCES packs(id),
        offset  INTEGER NOT NULL,       -- byte offset of the stored (compressed) bytes
        length  INTEGER NOT NULL,       -- stored byte count
        size    INTEGER NOT NULL,       -- plain byte count
        codec   INTEGER NOT NULL        -- 0 raw, 1 zstd (docs/format.md)
    ) WITHOUT ROWID;
    CREATE INDEX chunks_pack ON chunks(pack);

    -- A blob is the content of one file (or one stored stream): an ordered list of chunks.
    CREATE TABLE blobs (
        id      BLOB PRIMARY KEY,       -- BLAKE3 (keyed when encrypted) of the whole content
        size    INTEGER NOT NULL,
        chunks  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE blob_chunks (
        blob    BLOB NOT NULL,
        seq     INTEGER NOT NULL,
        chunk   BLOB NOT NULL,
        PRIMARY KEY (blob, seq)
    ) WITHOUT ROWID;
    CREATE INDEX blob_chunks_chunk ON blob_chunks(chunk);

    -- One row per committed snapshot. seq orders snapshots by commit; id is what users type.
    CREATE TABLE snapshots (
        seq      INTEGER PRIMARY KEY,   -- strictly increasing, never reused
        id       TEXT NOT NULL UNIQUE,  -- 64 hex chars, shown as a unique prefix (8+)
        time     TEXT NOT NULL,         -- ISO-8601 UTC, the moment the snapshot depicts
        host     TEXT NOT NULL,
        profile  TEXT NOT NULL,         -- 'paperless' | 'django'
        tags     TEXT NOT NULL DEFAULT '[]',  -- JSON list of strings
        complete INTEGER NOT NULL DEFAULT 1,  -- 0: some files are missing (snapshot_missing)
        info     TEXT NOT NULL DEFAULT '{}',  -- JSON: site version, migrations, time zone,
                                              -- sections (model labels in export order), ...
        stats    TEXT NOT NULL DEFAULT '{}'   -- JSON: counts and bytes read/added by this run
    );

    -- Deduplicated record texts. data = zstd(the record's JSON text exactly as the exporter
    -- writes it: json.dumps(record, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)).
    CREATE TABLE record_data (
        hash    BLOB PRIMARY KEY,       -- BLAKE3 of the plain JSON text
        data    BLOB NOT NULL
    ) WITHOUT ROWID;

    -- One version of one record, alive over snapshots [born, died).
    CREATE TABLE record_spans (
        id          INTEGER PRIMARY KEY,
        model       TEXT NOT NULL,      -- 'app_label.modelname'
        pk          TEXT NOT NULL,      -- JSON encoding of the primary key
        hash        BLOB NOT NULL REFERENCES record_data(hash),
        fingerprint BLOB,               -- hash of raw column values + M2M lists (fast path)
        sort_key    BLOB NOT NULL,      -- memcmp-ordered key: the section's order
        extra       TEXT,               -- JSON: per-record facts materialize needs
                                        -- (e.g. a document's filename-format name)
        born        INTEGER NOT NULL,
        died        INTEGER
    );
    CREATE UNIQUE INDEX record_spans_current ON record_spans(model, pk) WHERE died IS NULL;
    CREATE INDEX record_spans_order ON record_spans(model, sort_key);
    CREATE INDEX record_spans_born ON record_spans(born);
    CREATE INDEX record_spans_died ON record_spans(died);
    CREATE INDEX record_spans_hash ON record_spans(hash);

    -- One version of one stored file, alive over snapshots [born, died).
    CREATE TABLE file_spans (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL,      -- storage-relative POSIX path (under MEDIA_ROOT)
        role        TEXT NOT NULL,      -- 'original' | 'archive' | 'thumbnail' | 'bundle' | 'file'
        owner_model TEXT,               -- record that owns the file, if any
        owner_pk    TEXT,
        blob        BLOB NOT NULL REFERENCES blobs(id),
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        mode        INTEGER NOT NULL,
        inode       INTEGER,            -- stat cache only
        checksum    TEXT,               -- the DB's checksum for this file, when it has one
        born        INTEGER NOT NULL,
        died        INTEGER
    );
    CREATE UNIQUE INDEX file_spans_current ON file_spans(path) WHERE died IS NULL;
    CREATE INDEX file_spans_owner ON file_spans(owner_model, owner_pk, role);
    CREATE INDEX file_spans_born ON file_spans(born);
    CREATE INDEX file_spans_died ON file_spans(died);
    CREATE INDEX file_spans_blob ON file_spans(blob);
    CREATE INDEX file_spans_checksum ON file_spans(checksum);

    -- Files a snapshot should have held but could not read (incomplete snapshots).
    CREATE TABLE snapshot_missing (
        seq         INTEGER NOT NULL REFERENCES snapshots(seq),
        path        TEXT NOT NULL,
        role        TEXT NOT NULL,
        owner_model TEXT,
        owner_pk    TEXT,
        reason      TEXT NOT NULL,
        PRIMARY KEY (seq, path)
    ) WITHOUT ROWID;

    -- Explicit record order of one section in one snapshot, only where the database's order
    -- (its collation) disagrees with sort_key order: zstd of little-endian int64 span ids.
    CREATE TABLE snapshot_orders (
        seq     INTEGER NOT NULL REFERENCES snapshots(seq),
        model   TEXT NOT NULL,
        spans   BLOB NOT NULL,
        PRIMARY KEY (seq, model)
    ) WITHOUT ROWID;
    """,
    _journal_migration(),
    # Schema 3: a smaller local catalog (issue #15). chunks.pack names its pack by a small
    # integer (pack_names.n) instead of 64 hex characters. Only the local catalog and its
    # checkpoint images carry chunk rows (they are not journaled: a rebuild reads them from
    # the packs' own indexes), so deltas are unaffected.
    """
    CREATE TABLE pack_names (
        n   INTEGER PRIMARY KEY,        -- what chunks.pack holds
        id  TEXT NOT NULL UNIQUE        -- hex BLAKE3 of the pack file (= packs.id)
    );
    INSERT INTO pack_names (id) SELECT id FROM packs UNION SELECT pack FROM chunks ORDER BY 1;
    CREATE TABLE chunks_v3 (
        id      BLOB PRIMARY KEY,
        pack    INTEGER NOT NULL REFERENCES pack_names(n),
        offset  INTEGER NOT NULL,
        length  INTEGER NOT NULL,
        size    INTEGER NOT NULL,
        codec   INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO chunks_v3 (id, pack, offset, length, size, codec)
        SELECT c.id, n.n, c.offset, c.length, c.size, c.codec
        FROM chunks c JOIN pack_names n ON n.id = c.pack ORDER BY c.id;
    DROP TABLE chunks;
    ALTER TABLE chunks_v3 RENAME TO chunks;
    CREATE INDEX chunks_pack ON chunks(pack);
    -- A one-chunk blob whose chunk id is its own id needs no blob_chunks row. Dropping them
    -- changes how the catalog says it, not what: the journal does not log it (a rebuild
    -- from older checkpoints and deltas drops the same rows, catalog/journal.py).
    CREATE TEMP TABLE migration_log_mark AS SELECT coalesce(max(n), 0) AS n FROM journal_log;
    DELETE FROM blob_chunks WHERE seq = 0 AND chunk = blob
        AND blob IN (SELECT id FROM blobs WHERE chunks = 1);
    DELETE FROM journal_log WHERE n > (SELECT n FROM temp.migration_log_mark);
    DROP TABLE temp.migration_log_mark;
    -- Indexes only rare commands used, or whose key is mostly redundant: prune and repair
    -- find spans by blob or text hash with one set query (a scan) instead; the moved-file
    -- lookup (catalog/records.py, blob_by_checksum) keys on the first 16 hex characters of
    -- the checksum and compares the whole checksum in the row.
    DROP INDEX file_spans_blob;
    DROP INDEX record_spans_hash;
    DROP INDEX file_spans_checksum;
    CREATE INDEX file_spans_checksum ON file_spans(substr(checksum, 1, 16));
    -- A record's files are found by its pk alone (few records of other models share it);
    -- spans are found by death only among those that died (nearly all are current).
    DROP INDEX file_spans_owner;
    CREATE INDEX file_spans_owner ON file_spans(owner_pk) WHERE owner_pk IS NOT NULL;
    DROP INDEX file_spans_died;
    CREATE INDEX file_spans_died ON file_spans(died) WHERE died IS NOT NULL;
    DROP INDEX record_spans_died;
    CREATE INDEX record_spans_died ON record_spans(died) WHERE died IS NOT NULL;
    """,
    _models_migration(),
]
