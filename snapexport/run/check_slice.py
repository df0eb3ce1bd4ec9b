"""The rolling check: the whole structure every run, the data of one slice of the packs.

With ``slices = M`` a run reads and re-hashes slice ``n`` of ``M`` (``check
--read-data-subset n/M``: the packs whose id, read as a number, leaves remainder ``n - 1``
when divided by M), and the next run reads slice ``n + 1``: after M runs every pack present
throughout has been read once. Which slice comes next is kept in the store's catalog
(``run.check_slice``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snapexport.catalog.meta import MetaKey
from snapexport.check import CheckReport, check_store
from snapexport.checkscope import PackSubset

if TYPE_CHECKING:
    from snapexport.store import Store

STATE_KEY = MetaKey.RUN_CHECK_SLICE


def next_slice(store: Store, m: int) -> int:
    """The slice this run reads: the one after the last run's (1 on the first run)."""
    last = store.catalog.get_meta(STATE_KEY)
    try:
        n = int(last.split("/")[0]) if last else 0
    except ValueError:
        n = 0
    return n % m + 1


def check_slice(store: Store, n: int, m: int) -> CheckReport:
    """Check ``store``'s structure and read the packs of slice ``n`` of ``m`` (``check
    --read-data-subset n/m``); remember the slice for the next run."""
    subset = PackSubset.parse(f"{n}/{m}")
    report = check_store(store, subset=subset)
    with store.catalog.transaction():
        store.catalog.set_meta(STATE_KEY, f"{n}/{m}")
    return report
