"""``check``: does every catalog reference resolve, and (with ``read_data``) is every byte
intact? And ``repair``: make the catalog tell the truth after packs went missing.

Structure (always): stray temp files and interrupted deletes are cleaned up, orphan packs are
indexed or removed (rules in ``store/recovery.py``), then every reference is followed down:
record spans to their stored texts, file spans to their blobs, each blob's chunk list to
chunk rows (complete, adding up to the blob's size), chunk rows to pack rows, and pack rows
to pack files of the right size. With ``read_data`` every pack is read whole and hashed against
its name, its index compared with the catalog, and every chunk decoded and re-hashed.
The library only reports; the CLI renders the report.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snapexport.checkscope import PackSubset
from snapexport.errors import CorruptionError, StoreLockedError
from snapexport.store import Store, journal, recovery
from snapexport.store.missing import LostPacks, forget_missing_packs
from snapexport.store.opened import OPEN_NOTES
from snapexport.values import SnapshotMeta

if TYPE_CHECKING:
    from snapexport.catalog.content import ChunkRow
    from snapexport.store.packs import PackEntry


@dataclass(slots=True)
class CheckReport:
    """Problems found (each one line naming what is damaged) and repairs made."""

    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    #: damage already known and marked (snapshots flagged incomplete by ``repair``)
    notes: list[str] = field(default_factory=list)
    packs: int = 0
    chunks: int = 0
    blobs: int = 0
    bytes_read: int = 0
    read_data: bool = False  # every byte was read, not only the references followed
    packs_read: int = 0  # packs read whole and verified (--read-data, a subset, snapshots)
    pack_bytes_read: int = 0
    pack_bytes_total: int = 0  # bytes of every pack in the catalog
    scope: str = "all"  # 'all' | 'subset N/M' | 'snapshots ...'

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "repairs": list(self.repairs),
            "notes": list(self.notes),
            "packs": self.packs,
            "chunks": self.chunks,
            "blobs": self.blobs,
            "read_data": self.read_data,
            "bytes_read": self.bytes_read,
            "scope": self.scope,
            "packs_read": self.packs_read,
            "pack_bytes_read": self.pack_bytes_read,
            "pack_bytes_total": self.pack_bytes_total,
        }


def run_check(
    store_location: str | Path,
    *,
    read_data: bool = False,
    subset: str | None = None,
    snapshots: Sequence[str] = (),
) -> CheckReport:
    """``snapexport check``: open the store for writing (check repairs what a crash left)
    and check it; ``subset`` is ``--read-data-subset`` (N/M or P%), ``snapshots`` the
    snapshot ids (prefixes, latest, latest~N) whose needs alone are read."""
    chosen = PackSubset.parse(subset) if subset is not None else None
    with open_for_check(store_location) as store:
        metas: dict[str, SnapshotMeta] = {}
        for spec in snapshots:
            meta = store.catalog.snapshots.resolve(spec)
            metas.setdefault(meta.id, meta)
        return check_store(store, read_data=read_data, subset=chosen,
                           snapshots=tuple(metas.values()))  # fmt: skip


def open_for_check(location: str | Path) -> Store:
    """The store opened for writing (so that the check repairs what a crash left), or,
    when a writer runs or the store is read-only, for reading: then the check reports on
    the last committed state and repairs nothing (``store.notes`` says so)."""
    try:
        return Store.open(location, write=True)
    except StoreLockedError as err:
        note = f"{err}: checked the committed state without repairing crash leftovers"
    except OSError as err:
        if err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        note = "the store is read-only: checked without repairing crash leftovers"
    except sqlite3.OperationalError as err:
        # a full disk leaves no room for the writer's mark in the catalog: reading still
        # works, and a check is what a user runs to learn whether anything was lost
        if "full" not in str(err):
            raise
        note = "the disk holding the store is full: checked without repairing crash leftovers"
    store = Store.open(location)
    store.notes.append(note)
    OPEN_NOTES.append(note)
    return store


def check_store(
    store: Store,
    *,
    read_data: bool = False,
    subset: PackSubset | None = None,
    snapshots: Sequence[SnapshotMeta] = (),
) -> CheckReport:
    """Check ``store`` (opened for writing: the check repairs what a crash leaves).

    ``subset`` reads only that share of the packs (and implies ``read_data``);
    ``snapshots`` limits reading to the packs those snapshots need and adds their own
    reference checks (file blobs, record texts).
    """
    report = CheckReport(read_data=read_data or subset is not None)
    if store.write:
        _recover(store, report)
    present, foreign = recovery.list_pack_objects(store)
    for name in foreign:
        report.problems.append(f"unexpected file {name} in the pack folder")
    refs = store.catalog.references
    if not store.write:
        known = store.catalog.content.pack_ids()
        new = [pid for pid in present if pid not in known]
        if new:
            report.notes.append(
                f"{len(new)} pack(s) not in the catalog yet (a writer is adding them, or a"
                " crash left them: a check with the store to itself indexes them)"
            )
    good_packs: dict[str, int] = {}
    for pack in store.catalog.content.packs():
        report.packs += 1
        size = present.get(pack.id)
        if size is None:
            report.problems.append(_missing_pack(store, pack.id, pack.chunks))
        elif size != pack.size:
            report.problems.append(
                f"pack {pack.id} has {size} bytes, the catalog says {pack.size} (truncated?):"
                " put back a good copy of it (from a copy of the store), or delete it and"
                " run snapexport repair"
            )
        else:
            good_packs[pack.id] = pack.size
            report.pack_bytes_total += pack.size
    for pid in refs.packs_missing_rows():
        report.problems.append(f"chunks refer to pack {pid}, which the catalog does not list")
    report.chunks = refs.chunk_count()
    _check_spans(store, report)
    _check_blobs(store, report)
    _check_lost_files(store, report)
    report.problems += journal.problems(store, set(present))
    to_read = _scoped(store, report, set(good_packs), subset, snapshots)
    if report.read_data:
        for pid, size in good_packs.items():
            if pid in to_read:
                _read_pack(store, pid, size, report)
                report.packs_read += 1
                report.pack_bytes_read += size
    return report


def _scoped(
    store: Store,
    report: CheckReport,
    good_packs: set[str],
    subset: PackSubset | None,
    snapshots: Sequence[SnapshotMeta],
) -> set[str]:
    """The packs to read: those the snapshots need (all without), then the subset's."""
    coverage = store.catalog.coverage
    chosen = good_packs
    if snapshots:
        needed: set[str] = set()
        for meta in snapshots:
            needed.update(coverage.packs_needed(meta.seq))
            for path, blob in coverage.files_without_blob(meta.seq):
                report.problems.append(f"snapshot {meta.short_id}: file {path} needs blob"
                                       f" {blob.hex()}, which is not stored")  # fmt: skip
            for model, pk in coverage.records_without_text(meta.seq):
                report.problems.append(f"snapshot {meta.short_id}: record {model} {pk} has"
                                       " no stored text")  # fmt: skip
        chosen = chosen & needed
        report.scope = "snapshots " + " ".join(m.short_id for m in snapshots)
    if subset is not None:
        chosen = subset.choose(chosen)
        report.scope = (f"{report.scope}, " if snapshots else "") + f"subset {subset.text}"
    return chosen


_NEXT_STEP = (
    "the next snapshot stores again what the site still has; then snapexport repair marks"
    " the snapshots that stay damaged (materialize writes the rest of them)"
)


def _missing_pack(store: Store, pack_id: str, chunks: int) -> str:
    needing = store.catalog.content.snapshots_needing_pack(pack_id)
    if not needing:
        return f"pack {pack_id} is missing ({chunks} chunks, no snapshot needs them): {_NEXT_STEP}"
    names = ", ".join(f"{sid[:8]} ({n} files)" for sid, n in needing[:5])
    more = f" and {len(needing) - 5} more" if len(needing) > 5 else ""
    return (
        f"pack {pack_id} is missing ({chunks} chunks); it breaks snapshot(s) {names}{more}:"
        f" {_NEXT_STEP}"
    )


def _check_lost_files(store: Store, report: CheckReport) -> None:
    for _, sid, complete, n, first in store.catalog.content.lost_files():
        line = (
            f"snapshot {sid[:8]} lacks {n} file(s) whose content was lost with a missing pack"
            f" (first: {first})"
        )
        if complete:
            report.problems.append(f"{line}: {_NEXT_STEP}")
        else:
            report.notes.append(f"{line}; marked incomplete")


def _recover(store: Store, report: CheckReport) -> None:
    done = recovery.recover(store)
    finished = journal.finish_pending(store)
    if finished:
        report.repairs.append(finished)
    for name in done.temp_removed:
        where = name if "/" in name else f"tmp/{name}"
        report.repairs.append(f"removed stray temp file {where}")
    for pid in done.deletes_finished:
        report.repairs.append(f"deleted pack {pid} (left by an interrupted prune)")
    for pid in done.indexed:
        report.repairs.append(f"indexed orphan pack {pid} (sealed by a run that did not commit)")
    for pid in done.removed:
        report.repairs.append(f"removed orphan pack {pid} (all its chunks are stored elsewhere)")
    for pid in done.damaged:
        report.problems.append(f"orphan pack {pid} is damaged (does not match its name)")


def _check_spans(store: Store, report: CheckReport) -> None:
    refs = store.catalog.references
    for model, pk, born, h in refs.record_spans_missing_texts():
        report.problems.append(
            f"record {model} pk {pk} (snapshots from #{born}) needs text {h.hex()},"
            " which is not stored"
        )
    # Files whose blob is not stored. Once repair has marked every snapshot holding such
    # files incomplete, the loss is known: _check_lost_files notes it per snapshot instead.
    lost = store.catalog.content.lost_files()
    if lost and not any(complete for _, _, complete, _, _ in lost):
        return
    for path, born, blob in refs.file_spans_missing_blobs():
        report.problems.append(
            f"file {path} (snapshots from #{born}) needs blob {blob.hex()}, which is not stored"
        )


def _check_blobs(store: Store, report: CheckReport) -> None:
    refs = store.catalog.references
    report.blobs = refs.blob_count()
    for blob, chunk in refs.chunks_missing_rows():
        report.problems.append(f"blob {blob.hex()} needs chunk {chunk.hex()}, which is not stored")
    for t in refs.blob_tallies():
        if t.chunks != t.listed:
            report.problems.append(f"blob {t.blob.hex()} lists {t.listed} of its {t.chunks} chunks")
        elif t.total != t.size and _all_chunks_known(store, t.blob):
            report.problems.append(
                f"blob {t.blob.hex()} chunks add up to {t.total} bytes, not {t.size}"
            )


def _all_chunks_known(store: Store, blob_id: bytes) -> bool:
    index = store.catalog.content
    ids = index.blob_chunk_ids(blob_id)
    return len(index.chunk_rows(ids)) == len(set(ids))


def _read_pack(store: Store, pack_id: str, size: int, report: CheckReport) -> None:
    # A window of a few MiB at a time, cut at chunk boundaries: memory stays at a window
    # whatever the pack size, and on object storage it is a few ranged requests a pack,
    # not one per chunk.
    try:
        pack = recovery.pack_windows(store, pack_id, size)
        in_pack = {e.id: e for e in pack.entries}
        rows = iter(store.catalog.content.chunks_of_pack(pack_id))  # in offset order
        row = next(rows, None)
        for start, data in pack.windows:
            pack.hash.update(start, data)
            end = start + len(data)
            while row is not None and row.offset < end:
                _check_chunk(store, report, pack_id, row, in_pack.get(row.id), start, data)
                row = next(rows, None)
            del data  # before the next window is read: one window held at a time
    except FileNotFoundError:
        report.problems.append(f"pack {pack_id} is missing")
        return
    except CorruptionError as err:  # its footer, index or header: the chunks one by one
        report.problems.append(str(err))
        _name_damaged_chunks(store, pack_id, report)
        return
    if pack.hash.hexdigest() != pack_id:
        report.problems.append(f"pack {pack_id} does not match its name (damaged or truncated)")
        return
    report.bytes_read += sum(e.length for e in pack.entries)


def _check_chunk(
    store: Store, report: CheckReport, pack_id: str, row: ChunkRow, entry: PackEntry | None,
    start: int, data: bytes,
) -> None:  # fmt: skip
    """One catalog row against the pack's index, and its bytes against its id."""
    if entry is None or (entry.offset, entry.length, entry.size, entry.codec) != (
        row.offset, row.length, row.size, row.codec,
    ):  # fmt: skip
        report.problems.append(
            f"chunk {row.id.hex()}: catalog row disagrees with the index of pack {pack_id}"
        )
        return
    try:
        at = row.offset - start
        store.decode_verified(row, memoryview(data)[at : at + row.length])
    except CorruptionError as err:
        report.problems.append(str(err))


def _name_damaged_chunks(store: Store, pack_id: str, report: CheckReport) -> None:
    """After a pack failed its hash, name the chunks in it that no longer verify."""
    for row in store.catalog.content.chunks_of_pack(pack_id):
        try:
            store.read_chunk(row)
        except CorruptionError as err:
            report.problems.append(str(err))


# -- repair ---------------------------------------------------------------------------------
# Like restic's ``repair index`` and ``repair snapshots``: packs the store no longer holds are
# forgotten (store/missing.py), so no writer deduplicates against them again and the next
# snapshot stores again what the site still has; snapshots that hold files whose content went
# with them are marked incomplete (materialize writes the rest and lists those files as
# missing, exit 3). Snapshots whose lost files were stored again since (same content, same
# blob id) are whole again and lose the mark.


@dataclass(frozen=True, slots=True)
class DamagedSnapshot:
    id: str
    files_lost: int
    first_path: str


@dataclass(slots=True)
class RepairReport:
    lost: LostPacks = field(default_factory=LostPacks)
    damaged: list[DamagedSnapshot] = field(default_factory=list)
    healed: int = 0  # snapshots marked incomplete before that are whole again

    def as_json(self) -> dict[str, Any]:
        return {
            "missing_packs": list(self.lost.packs),
            "blobs_lost": self.lost.blobs,
            "damaged_snapshots": [
                {"id": d.id, "files_lost": d.files_lost, "first": d.first_path}
                for d in self.damaged
            ],
            "healed_snapshots": self.healed,
        }


def repair_store(store: Store) -> RepairReport:
    """Forget missing packs and mark (or unmark) the snapshots they damaged."""
    lost = forget_missing_packs(store)
    content = store.catalog.content
    rows = content.lost_files()
    with store.catalog.transaction():
        content.mark_complete([r[0] for r in rows if r[2]], False)
        healed = content.whole_but_marked_incomplete()
        content.mark_complete(healed, True)
        if healed or any(r[2] for r in rows):
            store.catalog.images.invalidate()  # a new image carries the marks
    return RepairReport(lost, [DamagedSnapshot(r[1], r[3], r[4]) for r in rows], len(healed))


def run_repair(store_location: str | Path) -> RepairReport:
    """``snapexport repair``: open the store for writing and repair it."""
    with Store.open(store_location, write=True) as store:
        return repair_store(store)
