"""Rebuilding a catalog from the journal: the newest checkpoint plus its deltas, in order.

From the packs (``rebuild-catalog``, or a new machine without catalog copies): every
pack's index is read, the journal headers (kinds 1 and 2) decoded, the newest checkpoint
whose body verifies is loaded, and the deltas after it are applied generation by
generation, each one's parent checked against the body id of the entry before. From the
catalog copies of a cache-catalog store (S3, encrypted): the newest full copy plus the
delta copies after it, checked the same way. Either way the pack rows are then
reconciled with the pack files that exist. docs/format.md, "Rebuilding a catalog".
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import zstandard

from snapexport import faults
from snapexport.catalog import journal as cj
from snapexport.catalog.db import Catalog
from snapexport.catalog.meta import MetaKey
from snapexport.errors import CorruptionError, StoreError
from snapexport.fsutil import create_private, fsync_dir, private_dir
from snapexport.store import catalog_image, packs, recovery
from snapexport.store.catalog_image import ImageHeader
from snapexport.store.crypto import NONCE_SIZE, OVERHEAD, TAG_SIZE, MasterKey
from snapexport.store.ids import Ids
from snapexport.store.journal import DeltaHeader, copy_gens, delta_copy_name, restart_chain
from snapexport.store.layout import CATALOG_FILE, COPIES_PREFIX
from snapexport.store.repository import BlobStore

# The catalog being rebuilt, beside the one it replaces (renamed over it when complete).
BUILDING = "rebuild-new.sqlite"

if TYPE_CHECKING:
    from snapexport.store.backend import Backend
    from snapexport.store.config import StoreConfig
    from snapexport.store.location import StoreLocation

_LEN = struct.Struct("<I")


class JournalGapError(CorruptionError):
    """A delta the chain needs is missing or damaged."""


@dataclass(slots=True)
class RebuildResult:
    """What a rebuild found and did."""

    packs: int = 0
    checkpoint: int | None = None  # generation of the checkpoint loaded
    deltas: int = 0  # deltas applied after it
    gen: int | None = None  # generation the catalog now reflects
    stopped_at: int | None = None  # the missing or damaged delta, when stopped early
    problem: str | None = None
    lost_snapshots: list[str] = field(default_factory=list)
    skipped_checkpoints: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "packs": self.packs, "checkpoint": self.checkpoint, "deltas": self.deltas,
            "generation": self.gen, "stopped_at": self.stopped_at, "problem": self.problem,
            "lost_snapshots": self.lost_snapshots,
            "skipped_checkpoints": self.skipped_checkpoints,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Applied:
    kind: str
    gen: int
    blob: bytes
    size: int
    chunks: tuple[bytes, ...]
    header: bytes  # header chunk id


def _scratch_store(
    loc: StoreLocation, backend: Backend, config: StoreConfig, master: MasterKey | None,
    key_id: str | None, work: Path, catalog: Catalog, *, write: bool = False,
) -> BlobStore:  # fmt: skip
    """A store over ``catalog`` without a lock of its own (the caller holds the lock)."""
    return BlobStore(loc, backend, config, catalog, write=write, work_dir=work,
                     master=master, key_id=key_id)  # fmt: skip


def _unlink_db(path: Path) -> None:
    for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        p.unlink(missing_ok=True)


def _headers(
    store: BlobStore,
) -> tuple[list[tuple[ImageHeader, bytes]], dict[int, list[tuple[DeltaHeader, bytes]]]]:
    """Every checkpoint (newest first) and delta header (by generation) in the packs."""
    checkpoints: list[tuple[ImageHeader, bytes]] = []
    deltas: dict[int, list[tuple[DeltaHeader, bytes]]] = {}
    content = store.catalog.content
    rows = content.chunks_of_kind(packs.KIND_CATALOG) + content.chunks_of_kind(packs.KIND_JOURNAL)
    for row in rows:
        try:
            raw = store.read_chunk(row)
            if packs.kind_of(row.codec) == packs.KIND_CATALOG:
                checkpoints.append((ImageHeader.from_bytes(raw), row.id))
            else:
                d = DeltaHeader.from_bytes(raw)
                deltas.setdefault(d.gen, []).append((d, row.id))
        except (CorruptionError, ValueError, KeyError):
            continue
    checkpoints.sort(key=lambda h: h[0].gen, reverse=True)
    return checkpoints, deltas


def _read_body(store: BlobStore, blob: bytes, chunks: tuple[bytes, ...], target: Path) -> None:
    rows = store.catalog.content.chunk_rows(list(chunks))
    h = store.ids.hasher()
    private_dir(target.parent)  # a reading store makes no tmp/ of its own
    target.unlink(missing_ok=True)
    with open(create_private(target), "wb") as f:
        for cid in chunks:
            if cid not in rows:
                raise CorruptionError(f"chunk {cid.hex()} is missing")
            data = store.read_chunk(rows[cid])
            h.update(data)
            f.write(data)
    single = len(chunks) == 1 and chunks[0] == blob
    if not single and h.digest() != blob:
        raise CorruptionError("its bytes do not match its id")


def rebuild_from_packs(
    loc: StoreLocation, backend: Backend, config: StoreConfig, master: MasterKey | None,
    key_id: str | None, work: Path, *, stop_at_last_good: bool = False,
) -> RebuildResult:  # fmt: skip
    """Build a new catalog at ``work`` from the pack files alone (see the module docstring).

    The catalog is built whole under another name and put in place in one rename at the
    end: a rebuild killed at any point leaves the catalog it was replacing as it was."""
    final = work / CATALOG_FILE
    path = work / BUILDING
    scratch = work / "rebuild.sqlite"
    _unlink_db(scratch)
    _unlink_db(path)
    private_dir(work)
    result = RebuildResult()
    store = _scratch_store(loc, backend, config, master, key_id, work,
                           Catalog.open(scratch, create=True))  # fmt: skip
    try:
        report = recovery.reindex(store)
        result.packs = report.packs_read
        if report.damaged:
            names = ", ".join(report.damaged[:3])
            raise CorruptionError(f"cannot rebuild the catalog: damaged pack(s) {names}")
        checkpoints, deltas = _headers(store)
        loaded: tuple[ImageHeader, bytes] | None = None
        for header, hid in checkpoints:
            try:
                catalog_image._read_image(store, header, path)
            except CorruptionError as err:
                result.skipped_checkpoints.append(f"checkpoint {header.gen}: {err}")
                continue
            loaded = (header, hid)
            break
    finally:
        store.release()
    if loaded is None:
        if checkpoints:
            raise CorruptionError(
                "cannot rebuild the catalog: no checkpoint is readable ("
                + "; ".join(result.skipped_checkpoints[:3])
                + ")"
            )
        os.replace(scratch, path)
        _unlink_db(scratch)
        _install(path, final)
        return result
    _unlink_db(scratch)
    header, hid = loaded
    result.checkpoint = result.gen = header.gen
    store = _scratch_store(loc, backend, config, master, key_id, work, Catalog.open(path))
    try:
        _reconcile_packs(store)
        applied = [_Applied("checkpoint", header.gen, header.blob, header.size, header.chunks,
                            hid)]  # fmt: skip
        _apply_deltas_from_packs(store, header, deltas, applied, result, stop_at_last_good)
        _record_chain(store, applied)
    finally:
        store.release()
    _install(path, final)
    return result


def _install(built: Path, final: Path) -> None:
    """Put the rebuilt catalog in place: made one self-contained file (its WAL folded in),
    the old catalog's WAL removed first (never to be replayed onto the new file), then one
    rename and the folder synced."""
    faults.checkpoint("rebuild:before-install")
    Catalog.fold_wal(built)
    with open(built, "rb+") as f:
        os.fsync(f.fileno())
    for stale in (Path(str(final) + "-wal"), Path(str(final) + "-shm")):
        stale.unlink(missing_ok=True)
    os.replace(built, final)
    fsync_dir(final.parent)


def _apply_deltas_from_packs(
    store: BlobStore,
    checkpoint: ImageHeader,
    deltas: dict[int, list[tuple[DeltaHeader, bytes]]],
    applied: list[_Applied],
    result: RebuildResult,
    stop_at_last_good: bool,
) -> None:
    newest = max(deltas, default=0)
    gen, parent = checkpoint.gen, checkpoint.blob
    tmp = store.tmp_dir / f"rebuild-delta-{os.getpid()}.sqlite"
    try:
        while gen < newest:
            gen += 1
            problem = None
            found = None
            for d, hid in deltas.get(gen, []):
                if d.parent != parent:
                    continue
                try:
                    _read_body(store, d.blob, d.chunks, tmp)
                    info = cj.read_delta(tmp)
                    if info.gen != gen:
                        raise CorruptionError("its body names another generation")
                except (CorruptionError, ValueError) as err:
                    problem = f"catalog delta {gen} (blob {d.blob.hex()[:16]}) is damaged: {err}"
                    continue
                found = (d, hid)
                break
            if found is None:
                problem = problem or (
                    f"catalog delta {gen} is missing (later deltas up to {newest} exist)"
                )
                _stop(store, gen, newest, deltas, result, problem, stop_at_last_good, tmp)
                return
            d, hid = found
            store.catalog.journal.apply_delta(tmp)
            applied.append(_Applied("delta", gen, d.blob, d.size, d.chunks, hid))
            parent = d.blob
            result.deltas += 1
            result.gen = gen
    finally:
        _unlink_db(tmp)


def _stop(
    store: BlobStore,
    gen: int,
    newest: int,
    deltas: dict[int, list[tuple[DeltaHeader, bytes]]],
    result: RebuildResult,
    problem: str,
    stop_at_last_good: bool,
    tmp: Path,
) -> None:
    if not stop_at_last_good:
        raise JournalGapError(
            f"cannot rebuild the catalog: {problem}; run rebuild-catalog --stop-at-last-good"
            f" to keep the state of generation {gen - 1} and lose what came after"
        )
    result.stopped_at = gen
    result.problem = problem
    lost: list[str] = []
    for g in range(gen, newest + 1):
        for d, _ in deltas.get(g, []):
            try:
                _read_body(store, d.blob, d.chunks, tmp)
                lost += cj.read_delta(tmp).snapshots
            except (CorruptionError, ValueError):
                continue
    result.lost_snapshots = sorted(set(lost))
    result.gen = max(newest, gen)  # the next entry continues above every generation seen


def _reconcile_packs(store: BlobStore) -> None:
    """Drop rows of packs that are gone; index the packs the catalog does not list."""
    present, _ = recovery.list_pack_objects(store)
    gone = [pid for pid in store.catalog.content.pack_ids() if pid not in present]
    with store.catalog.transaction():
        store.catalog.content.forget_packs(gone)
    recovery.reindex(store, only_unknown=True)


def _record_chain(store: BlobStore, applied: list[_Applied]) -> None:
    """Blob rows of the journal entries applied, ``journal_entries``, the head; the log is
    cleared (the catalog is exactly the chain's state)."""
    content, journal = store.catalog.content, store.catalog.journal
    with store.catalog.transaction():
        for a in applied:
            content.insert_blob(a.blob, a.size, list(a.chunks))
            row = content.chunk_rows([a.header]).get(a.header)
            if row is not None:
                content.insert_blob(a.header, row.size, [a.header])
            journal.commit_entry(cj.Entry(a.gen, a.kind, a.blob, a.header, a.size), 0)
        store.catalog.set_meta(MetaKey.CATALOG_IMAGE, None)
        store.catalog.set_meta(MetaKey.OPEN_WRITER, None)
        journal.reset_log()


# -- a cache catalog from the catalog copies --------------------------------------------


def sync_local(
    loc: StoreLocation, backend: Backend, config: StoreConfig, master: MasterKey | None,
    key_id: str | None, work: Path,
) -> str | None:  # fmt: skip
    """Make the cache catalog at ``work`` current from the catalog copies (or the packs).

    Returns what was done, if anything.
    """
    private_dir(work)
    path = work / CATALOG_FILE
    local = cj.state_of_file(path)
    names = [n for n, _ in backend.list(COPIES_PREFIX)]
    full, delta_gens = copy_gens(backend, names)
    target = max(full[-1] if full else 0, delta_gens[-1] if delta_gens else 0)
    if not target:
        if local is None:
            rebuild_from_packs(loc, backend, config, master, key_id, work)
            return "rebuilt from packs"
        return None
    if local is not None and target <= local[0]:
        return None
    have = set(delta_gens)

    def chained(start: int) -> bool:
        return all(g in have for g in range(start + 1, target + 1))

    done = []
    if local is None or local[1] is None or not chained(local[0]):
        base = next((f for f in reversed(full) if chained(f)), full[-1] if full else None)
        if base is None:
            rebuild_from_packs(loc, backend, config, master, key_id, work)
            return "rebuilt from packs (the catalog copies do not form a chain)"
        catalog_image._download_copy(backend, master, catalog_image._copy_name(base), path)
        done.append(f"downloaded {catalog_image._copy_name(base)}")
        local = cj.state_of_file(path)
        if local is None:
            raise CorruptionError(f"catalog copy {catalog_image._copy_name(base)} is unreadable")
    applied = _apply_delta_copies(backend, master, path, work, local, target, have)
    if applied:
        done.append(f"applied {len(applied)} catalog delta(s)")
        catalog = Catalog.open(path)
        store = _scratch_store(loc, backend, config, master, key_id, work, catalog)
        try:
            _reconcile_packs(store)
            _record_chain(store, applied)
        finally:
            store.release()
    return ", ".join(done) or None


def _apply_delta_copies(
    backend: Backend,
    master: MasterKey | None,
    path: Path,
    work: Path,
    local: tuple[int, bytes | None],
    target: int,
    have: set[int],
) -> list[_Applied]:
    gen, parent = local
    ids = Ids(master.ids if master else None)
    applied: list[_Applied] = []
    tmp = work / f"sync-delta-{os.getpid()}.sqlite"
    catalog = Catalog.open(path)
    try:
        while gen < target and gen + 1 in have:
            name = delta_copy_name(gen + 1)
            header_raw = _download_delta(backend, master, name, tmp)
            header = DeltaHeader.from_bytes(header_raw)
            body_id = ids.of(tmp.read_bytes())
            if header.gen != gen + 1 or header.blob != body_id or header.parent != parent:
                # the chain is broken here: stop; the state so far is consistent
                break
            catalog.journal.apply_delta(tmp)
            applied.append(_Applied("delta", header.gen, header.blob, header.size,
                                    header.chunks, ids.of(header_raw)))  # fmt: skip
            gen, parent = header.gen, header.blob
    finally:
        catalog.close()
        _unlink_db(tmp)
    return applied


def _download_delta(backend: Backend, master: MasterKey | None, name: str, target: Path) -> bytes:
    """Write a delta copy's body to ``target``; returns its header bytes."""
    size = backend.stat(name)
    if size is None:
        raise StoreError(f"catalog copy {name} disappeared while being read")
    raw = backend.load(name)
    try:
        if master is not None:
            if size < OVERHEAD:
                raise CorruptionError(f"catalog copy {name} is damaged: too short")
            nonce, body, tag = raw[:NONCE_SIZE], raw[NONCE_SIZE:-TAG_SIZE], raw[-TAG_SIZE:]
            raw = b"".join(master.cipher().open_stream(nonce, tag, iter([body])))
        plain = zstandard.ZstdDecompressor().decompress(raw)
    except zstandard.ZstdError as err:
        raise CorruptionError(f"catalog copy {name} is damaged: {err}") from None
    (n,) = _LEN.unpack_from(plain)
    private_dir(target.parent)
    target.unlink(missing_ok=True)
    with open(create_private(target), "wb") as f:
        f.write(plain[_LEN.size + n :])
    return plain[_LEN.size : _LEN.size + n]


def rebuild_with_lock(
    loc: StoreLocation, backend: Backend, config: StoreConfig, master: MasterKey | None,
    key_id: str | None, work: Path, *, stop_at_last_good: bool = False,
) -> RebuildResult:  # fmt: skip
    """``rebuild-catalog`` (the caller holds the store's exclusive lock): rebuild from the
    packs; a rebuild that stopped at the last good state then writes a checkpoint of that
    state at once, so the store's chain continues from it."""
    result = rebuild_from_packs(loc, backend, config, master, key_id, work,
                                stop_at_last_good=stop_at_last_good)  # fmt: skip
    if result.stopped_at is not None and result.gen is not None:
        store = _scratch_store(loc, backend, config, master, key_id, work,
                               Catalog.open(work / CATALOG_FILE), write=True)  # fmt: skip
        try:
            restart_chain(store, result.gen)
        finally:
            store.release()
    return result
