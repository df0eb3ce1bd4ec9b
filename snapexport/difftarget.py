"""``snapexport diff A B``: B names a snapshot or an export on disk, and the one comparison runs.

Between two snapshots the catalog's spans answer (``diff.py``); against an export (a folder
or a zip from ``document_exporter`` or ``materialize``) the real exporter runs into a
comparing sink (``verify``). What B is decides which: an existing path is an export,
unless it is also spelled like a snapshot id (write ``./id`` for a folder named like one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from snapexport.diff import SnapshotDiff, diff_snapshots
from snapexport.errors import RequestError
from snapexport.store import Store

if TYPE_CHECKING:
    from snapexport.verify import ExportComparison


def looks_like_snapshot(text: str) -> bool:
    """``latest``, ``latest~N`` or hex digits (an id or a prefix of one)."""
    return text.startswith("latest") or all(c in "0123456789abcdefABCDEF" for c in text)


def is_export_path(text: str) -> bool:
    """A path that exists, unless it is also spelled like a snapshot id (then ``./id``)."""
    path = Path(text)
    if not path.exists():
        return False
    return not looks_like_snapshot(text) or "/" in text or path.suffix == ".zip"


@dataclass(frozen=True, slots=True)
class DiffOutcome:
    """Exactly one of the two: snapshot against snapshot, or snapshot against an export."""

    snapshots: SnapshotDiff | None = None
    export: ExportComparison | None = None

    def as_json(self) -> dict[str, Any]:
        result = self.snapshots if self.snapshots is not None else self.export
        assert result is not None
        return result.as_json()


def run_diff(
    store_location: str | Path,
    a: str,
    b: str,
    *,
    tag: str | None = None,
    passphrase: str | None = None,
) -> DiffOutcome:
    """Compare snapshot ``a`` with ``b``: a second snapshot or an export on disk."""
    with Store.open(store_location) as store:
        if is_export_path(b):
            # the exporter and its sinks load only for a comparison with an export (a diff
            # of two snapshots, the common case, starts in half the time without them)
            from snapexport.verify import compare_export

            comparison = compare_export(store, a, Path(b), passphrase=passphrase, tag=tag)
            return DiffOutcome(export=comparison)
        if not looks_like_snapshot(b):
            raise RequestError(f"{b!r} is neither a snapshot nor an export folder or zip")
        snapshots = store.catalog.snapshots
        result = diff_snapshots(
            store.catalog.changes, snapshots.resolve(a, tag=tag), snapshots.resolve(b, tag=tag)
        )
    return DiffOutcome(snapshots=result)
