"""``repair``: make the catalog tell the truth after packs went missing.

Like restic's ``repair index`` and ``repair snapshots``: packs the store no longer holds are
forgotten (store/missing.py), so no writer deduplicates against them again and the next
snapshot stores again what the site still has; snapshots that hold files whose content went
with them are marked incomplete, and materialize writes the rest of such a snapshot and
lists those files as missing (exit 3). Snapshots whose lost files have been stored again
since (same content, same blob id) are whole again and lose the mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from snapexport.store import Store
from snapexport.store.missing import LostPacks, forget_missing_packs


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
