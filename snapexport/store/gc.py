"""Garbage collection: drop blobs nobody needs, then delete or repack the packs they freed.

Order, so that a crash at any point leaves every live blob readable and ``check`` clean:

1. plan (read only): dead blobs, chunks no live blob uses, per-pack unused share;
2. write the live chunks of packs to repack into new packs (saved, not yet catalogued:
   a crash here leaves orphans whose chunks are all indexed elsewhere, which recovery
   deletes);
3. one transaction: delete dead blob rows, the rows of deleted and repacked packs and
   their chunks, insert the new packs' rows, and record the old pack names in the
   ``pending_pack_deletes`` meta key;
4. delete the old pack files, then clear the key (recovery finishes a crash in between).

Dead chunks in packs that are kept (unused share at most ``max_unused``) keep their rows:
their bytes are still there, a later run may reuse them, and the next collection counts
them again towards their pack's unused share.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from snapexport.catalog import content
from snapexport.store import packs
from snapexport.store.recovery import PENDING_DELETES_META, finish_pending_deletes

if TYPE_CHECKING:
    from snapexport.store.repository import Store


@dataclass(frozen=True, slots=True)
class GcReport:
    """What a collection freed (or, with ``dry_run``, would free)."""

    blobs_deleted: int
    chunks_unused: int  # chunks no live blob uses (their rows go with their pack, if it goes)
    packs_deleted: int
    packs_repacked: int
    packs_written: int
    bytes_freed: int
    dry_run: bool

    def as_dict(self) -> dict[str, int | bool]:
        return dataclasses.asdict(self)


def _load_live(store: Store, live: Iterable[bytes] | str) -> None:
    conn = store.catalog.conn
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS gc_live (id BLOB PRIMARY KEY) WITHOUT ROWID")
    conn.execute("DELETE FROM temp.gc_live")
    if isinstance(live, str):
        conn.execute(f"INSERT OR IGNORE INTO temp.gc_live (id) {live}")
    else:
        conn.executemany("INSERT OR IGNORE INTO temp.gc_live (id) VALUES (?)", ((b,) for b in live))


def collect_garbage(
    store: Store, live: Iterable[bytes] | str, *, max_unused: float, dry_run: bool
) -> GcReport:
    """See the module docstring; ``store`` must be open for writing and flushed."""
    from snapexport.catalog import journal
    from snapexport.store import catalog_image  # builds on Store; import late

    conn = store.catalog.conn
    _load_live(store, live)
    # the newest checkpoint (or format-2 image) and its deltas stay; older ones go like
    # any unused blob
    conn.executemany(
        "INSERT OR IGNORE INTO temp.gc_live (id) VALUES (?)",
        [(b,) for b in catalog_image.live_image_blobs(conn) + journal.live_blobs(conn)],
    )
    images = set(catalog_image.image_blobs(conn)) | set(journal.journal_blobs(conn))
    dead_blobs = [
        bytes(r[0])
        for r in conn.execute("SELECT id FROM blobs WHERE id NOT IN (SELECT id FROM temp.gc_live)")
    ]
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS gc_dead (id BLOB PRIMARY KEY) WITHOUT ROWID")
    conn.execute("DELETE FROM temp.gc_dead")
    conn.execute(
        "INSERT INTO temp.gc_dead SELECT c.id FROM chunks c WHERE NOT EXISTS ("
        " SELECT 1 FROM blob_chunks bc JOIN temp.gc_live l ON l.id = bc.blob"
        " WHERE bc.chunk = c.id)"
    )
    dead_chunks = conn.execute("SELECT count(*) FROM temp.gc_dead").fetchone()[0]
    plan = conn.execute(
        "SELECT p.id, p.size,"
        " (SELECT count(*) FROM chunks c WHERE c.pack = p.id"
        "   AND c.id NOT IN (SELECT id FROM temp.gc_dead)),"
        " (SELECT coalesce(sum(c.length), 0) FROM chunks c WHERE c.pack = p.id"
        "   AND c.id NOT IN (SELECT id FROM temp.gc_dead))"
        " FROM packs p WHERE p.id IN"
        " (SELECT DISTINCT c.pack FROM chunks c JOIN temp.gc_dead d ON d.id = c.id)"
        " ORDER BY p.id"
    ).fetchall()
    delete = [(pid, size) for pid, size, live_n, _ in plan if live_n == 0]
    repack = [
        (pid, size)
        for pid, size, live_n, live_bytes in plan
        if live_n and (size - live_bytes) / size > max_unused
    ]
    old_bytes = sum(size for _, size in delete + repack)
    if dry_run:
        repacked = {pid for pid, _ in repack}
        live_bytes = sum(lb for pid, _, _, lb in plan if pid in repacked)
        return GcReport(
            len(set(dead_blobs) - images), dead_chunks, len(delete), len(repack), 0,
            old_bytes - live_bytes, True,
        )  # fmt: skip

    new_packs = _write_repacked(store, [pid for pid, _ in repack])
    old_ids = [pid for pid, _ in delete + repack]
    with store.catalog.transaction():
        conn.executemany("DELETE FROM blob_chunks WHERE blob = ?", [(b,) for b in dead_blobs])
        conn.executemany("DELETE FROM blobs WHERE id = ?", [(b,) for b in dead_blobs])
        conn.executemany("DELETE FROM chunks WHERE pack = ?", [(p,) for p in old_ids])
        content.delete_packs(conn, old_ids)
        for finished in new_packs:
            rows = [
                content.ChunkRow(e.id, finished.id, e.offset, e.length, e.size, e.codec)
                for e in finished.entries
            ]
            content.insert_pack(conn, finished.id, finished.size, rows)
        store.catalog.set_meta(PENDING_DELETES_META, json.dumps(old_ids) if old_ids else None)
        catalog_image.after_collect(store)
        journal.after_collect(conn)
    finish_pending_deletes(store)
    new_bytes = sum(p.size for p in new_packs)
    return GcReport(
        len(set(dead_blobs) - images), dead_chunks, len(delete), len(repack), len(new_packs),
        old_bytes - new_bytes, False,
    )  # fmt: skip


def _write_repacked(store: Store, pack_ids: list[str]) -> list[packs.FinishedPack]:
    """Copy the live chunks of ``pack_ids`` (verified, still compressed) into new packs."""
    conn = store.catalog.conn
    finished: list[packs.FinishedPack] = []
    writer: packs.PackWriter | None = None
    try:
        for pid in pack_ids:
            live = [
                row
                for row in content.chunks_of_pack(conn, pid)
                if conn.execute("SELECT 1 FROM temp.gc_dead WHERE id = ?", (row.id,)).fetchone()
                is None
            ]
            for row in live:
                stored = store.load_stored(row)
                store.decode_verified(row, stored)  # never copy damage into a new pack
                if writer is None:
                    writer = packs.PackWriter(store.tmp_dir, store.cipher)
                writer.add(row.id, row.codec, row.size, stored)
                if writer.size >= store.config.pack_size:
                    finished.append(_save(store, writer))
                    writer = None
        if writer is not None:
            finished.append(_save(store, writer))
            writer = None
    finally:
        if writer is not None:
            writer.abort()
    return finished


def _save(store: Store, writer: packs.PackWriter) -> packs.FinishedPack:
    done = writer.finish()
    store.backend.save(packs.object_name(done.id), done.path)
    return done
