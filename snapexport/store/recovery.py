"""Bringing a store back to a clean state after a crash, and rebuilding the chunk index.

Rules (docs/format.md, "Crash recovery"):

* Files in ``tmp/`` belong to the writer holding the exclusive lock; any found while we
  hold it are strays of a dead writer and are deleted.
* Packs named in the ``pending_pack_deletes`` meta key were dropped from the catalog by a
  garbage collection that was interrupted before deleting them; they are deleted.
* An *orphan* pack (a pack file without a ``packs`` row) is first verified: its pack id
  (``packs.PackHash``) must equal its name, its index must parse and, from pack format 3
  on (whose name does not cover the payloads), every payload must decode to its id. A
  verified orphan holding any chunk the
  catalog lacks was sealed by a writer that died before committing: it is indexed, so its
  chunks are reused by the next run instead of being stored again. A verified orphan whose
  chunks are all indexed in *other listed* packs is a leftover copy (interrupted repack) and
  is deleted; chunk rows naming the orphan itself (its ``packs`` row was lost) or another
  unlisted pack are no copy: the orphan is adopted and those rows moved to it.
  An orphan that does not verify is reported as damaged and left alone.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from snapexport.catalog.content import ChunkRow
from snapexport.catalog.meta import MetaKey
from snapexport.errors import CorruptionError
from snapexport.fsutil import is_temp_name
from snapexport.store import packs
from snapexport.store.repository import BlobStore

PENDING_DELETES_META = MetaKey.PENDING_PACK_DELETES


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What ``recover`` found and did; each field holds names or pack ids."""

    temp_removed: tuple[str, ...] = ()
    deletes_finished: tuple[str, ...] = ()
    indexed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    damaged: tuple[str, ...] = ()
    foreign: tuple[str, ...] = ()  # files under packs/ whose names are not pack names


def clean_tmp(store: BlobStore) -> list[str]:
    """Delete everything in ``tmp/`` (only call while holding the exclusive lock)."""
    removed = []
    if store.tmp_dir.is_dir():
        for p in sorted(store.tmp_dir.iterdir()):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                p.unlink()
                removed.append(p.name)
    # Small objects (keys, catalog copies, the config) are written beside their final
    # name through a temporary one (fsutil.atomic_writer); only writers write them.
    if store.root is not None:
        for folder in (store.root, store.root / "keys", store.root / "catalog"):
            if not folder.is_dir():
                continue
            for p in sorted(folder.iterdir()):
                if is_temp_name(p.name):
                    with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                        p.unlink()
                        removed.append(p.relative_to(store.root).as_posix())
    return removed


def pending_deletes(store: BlobStore) -> list[str]:
    raw = store.catalog.get_meta(PENDING_DELETES_META)
    return list(json.loads(raw)) if raw else []


def finish_pending_deletes(store: BlobStore) -> list[str]:
    """Delete the pack files an interrupted garbage collection had already uncatalogued."""
    doomed = pending_deletes(store)
    known = store.catalog.content.pack_ids()
    for pid in doomed:
        # never delete a pack the catalog (again) lists or any chunk row still names:
        # recovery's orphan rules decide about the latter
        if pid not in known and not store.catalog.content.pack_is_referenced(pid):
            store.ensure_lock()
            store.backend.remove(packs.object_name(pid))
    if doomed:
        with store.catalog.transaction():
            store.catalog.set_meta(PENDING_DELETES_META, None)
    return doomed


def list_pack_objects(store: BlobStore) -> tuple[dict[str, int], list[str]]:
    """All pack objects by id with their sizes, and the names under packs/ that are not packs."""
    found: dict[str, int] = {}
    foreign: list[str] = []
    for name, size in store.backend.list(packs.PACKS_PREFIX):
        pid = packs.pack_id_of(name)
        if pid is None:
            foreign.append(name)
        else:
            found[pid] = size
    return found, foreign


def read_verified_entries(store: BlobStore, pack_id: str) -> tuple[packs.PackEntry, ...]:
    """Load a whole pack, check its hash against its name and return its index entries."""
    return read_verified_pack(store, pack_id)[0]


def read_verified_pack(store: BlobStore, pack_id: str) -> tuple[tuple[packs.PackEntry, ...], bytes]:
    """Load a whole pack (one read), check it against its name and, where the name does not
    cover the payloads (format 3), each payload against its chunk id; return its index
    entries and bytes."""
    data = store.backend.load(packs.object_name(pack_id))
    if packs.pack_id_of_bytes(data) != pack_id:
        raise CorruptionError(f"pack {pack_id} does not match its name (damaged or truncated)")
    entries = packs.parse_pack(data, store.cipher)
    if not packs.name_covers_payloads(packs.version_of(data)):
        view = memoryview(data)
        for e in entries:
            row = ChunkRow(e.id, pack_id, e.offset, e.length, e.size, e.codec)
            store.decode_verified(row, view[e.offset : e.offset + e.length])
    return entries, data


CHECK_WINDOW = 2 << 20  # bytes of a pack held at once by a verifying read (one chunk more)


@dataclass(frozen=True, slots=True)
class PackWindows:
    """A pack's index entries (read from its tail) and, in ``windows``, all its bytes in
    order as ``(offset, bytes)``, cut at chunk boundaries: about ``CHECK_WINDOW`` bytes
    each, or one chunk when that is larger. The caller feeds what it is given to ``hash``
    (which knows what of it the pack's name covers) and verifies each chunk whole in its
    window, so a pack is checked without ever being held in memory at once."""

    entries: tuple[packs.PackEntry, ...]
    windows: Iterator[tuple[int, bytes]]
    hash: packs.PackHash


def read_index(
    store: BlobStore, name: str, size: int
) -> tuple[int, bytes, tuple[packs.PackEntry, ...]]:
    """A pack's index, read from its end without the rest: where the index starts, the
    bytes from there on (the index and the footer) and its entries. Raises
    CorruptionError when the footer or the index does not decode."""
    cipher = store.cipher
    footer = store.backend.load(name, max(size - packs.FOOTER_SIZE, 0), packs.FOOTER_SIZE)
    offset, length = packs.index_span(footer, size, encrypted=cipher is not None)
    tail = store.backend.load(name, offset, size - offset)
    return offset, tail, packs.parse_index(memoryview(tail)[:length], offset, cipher)


def pack_windows(store: BlobStore, pack_id: str, size: int) -> PackWindows:
    """Read a pack's footer and index; its bytes follow in windows (``PackWindows``).
    Raises CorruptionError when the footer or the index does not decode."""
    name = packs.object_name(pack_id)
    offset, tail, entries = read_index(store, name, size)
    hashed = packs.PackHash(packs.version_of(tail), offset)
    return PackWindows(entries, _windows(store, name, entries, offset, tail), hashed)


def _windows(
    store: BlobStore, name: str, entries: Sequence[packs.PackEntry], end: int, tail: bytes
) -> Iterator[tuple[int, bytes]]:
    # parse_index checked that the entries tile [header, end) in order: the last one
    # stops at ``end``
    start = 0
    for entry in entries:
        stop = entry.offset + entry.length
        if stop == end or stop - start >= CHECK_WINDOW:
            yield start, _window(store, name, start, stop)
            start = stop
    if start < end:  # a pack without chunks: its header
        yield start, _window(store, name, start, end)
    yield end, tail


def _window(store: BlobStore, name: str, start: int, stop: int) -> bytes:
    data = store.backend.load(name, start, stop - start)
    if start == 0 and not packs.header_ok(data):
        raise CorruptionError(f"pack {packs.pack_id_of(name)}: header magic is wrong")
    return data


def adopt_orphan(store: BlobStore, pack_id: str, size: int) -> str:
    """Index or delete one orphan pack; returns 'indexed', 'removed' or 'damaged'."""
    try:
        entries = read_verified_entries(store, pack_id)
    except CorruptionError:
        return "damaged"
    ids = [e.id for e in entries]
    # Only a copy in another *listed* pack makes this one redundant: chunk rows naming this
    # pack, or a pack the catalog lost, are no second copy (deleting lost the only one).
    if len(store.catalog.content.chunks_in_other_packs(ids, pack_id)) == len(set(ids)):
        store.ensure_lock()
        store.backend.remove(packs.object_name(pack_id))
        return "removed"
    rows = [ChunkRow(e.id, pack_id, e.offset, e.length, e.size, e.codec) for e in entries]
    with store.catalog.transaction():
        store.catalog.content.adopt_pack(pack_id, size, rows)
    return "indexed"


def recover(store: BlobStore) -> RecoveryReport:
    """Clean up after a writer that did not close: temp files, pending deletes, orphans."""
    temp = clean_tmp(store)
    finished = finish_pending_deletes(store)
    found, foreign = list_pack_objects(store)
    known = store.catalog.content.pack_ids()
    outcome: dict[str, list[str]] = {"indexed": [], "removed": [], "damaged": []}
    for pid in sorted(set(found) - known):
        outcome[adopt_orphan(store, pid, found[pid])].append(pid)
    return RecoveryReport(
        tuple(temp),
        tuple(finished),
        tuple(outcome["indexed"]),
        tuple(outcome["removed"]),
        tuple(outcome["damaged"]),
        tuple(foreign),
    )


@dataclass(frozen=True, slots=True)
class ReindexReport:
    packs_read: int
    packs_added: int
    chunks_added: int
    damaged: tuple[str, ...]


def reindex(store: BlobStore, *, only_unknown: bool = False) -> ReindexReport:
    """Rebuild the packs and chunks tables from the pack files' trailers alone.

    Existing rows are kept; missing pack and chunk rows are added. Only each pack's footer
    and index are read (with ``only_unknown``, only of packs the catalog does not list).
    Blob rows cannot be rebuilt this way: a blob's chunk list lives only in the catalog
    (and its journal).
    """
    found, _ = list_pack_objects(store)
    known = store.catalog.content.pack_ids()
    damaged: list[str] = []
    packs_added = chunks_added = 0
    for pid, size in sorted(found.items()):
        if only_unknown and pid in known:
            continue
        try:
            _, _, entries = read_index(store, packs.object_name(pid), size)
        except CorruptionError:
            damaged.append(pid)
            continue
        rows = [ChunkRow(e.id, pid, e.offset, e.length, e.size, e.codec) for e in entries]
        with store.catalog.transaction():
            chunks_added += store.catalog.content.insert_pack(pid, size, rows)
        packs_added += pid not in known
    return ReindexReport(len(found), packs_added, chunks_added, tuple(damaged))
