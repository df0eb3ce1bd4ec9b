"""The rolling check: the whole structure every run, the data of one slice of the packs.

With ``slices = M`` a run reads and re-hashes slice ``n`` of ``M`` (the packs whose id,
read as a number, leaves remainder ``n - 1`` when divided by M), and the next run reads
slice ``n + 1``: after M runs every pack present throughout has been read once. Which
slice comes next is kept in the store's catalog (``run.check_slice``).
"""

from __future__ import annotations

from typing import Any

from snapexport.catalog.meta import MetaKey
from snapexport.check import CheckReport, _read_pack, check_store
from snapexport.errors import UsageError

STATE_KEY = MetaKey.RUN_CHECK_SLICE


def in_slice(pack_id: str, n: int, m: int) -> bool:
    """Whether pack ``pack_id`` belongs to slice ``n`` (1-based) of ``m``."""
    return int(pack_id[:16], 16) % m == n - 1


def next_slice(store: Any, m: int) -> int:
    """The slice this run reads: the one after the last run's (1 on the first run)."""
    last = store.catalog.get_meta(STATE_KEY)
    try:
        n = int(last.split("/")[0]) if last else 0
    except ValueError:
        n = 0
    return n % m + 1


def check_slice(store: Any, n: int, m: int) -> CheckReport:
    """Check ``store``'s structure and read the packs of slice ``n`` of ``m``; remember it."""
    if not 1 <= n <= m:
        raise UsageError(f"check slice {n}/{m} does not exist (1 <= n <= m)")
    report = check_store(store, read_data=False)
    chosen = [p.id for p in store.catalog.content.packs() if in_slice(p.id, n, m)]
    for pack_id in chosen:
        _read_pack(store, pack_id, report)
    with store.catalog.transaction():
        store.catalog.set_meta(STATE_KEY, f"{n}/{m}")
    return report
