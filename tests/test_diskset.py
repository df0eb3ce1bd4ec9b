"""DiskSet: exact membership on disk, whatever the number of items."""

from __future__ import annotations

import tracemalloc

import pytest

from snapexport import diskset
from snapexport.diskset import DiskSet


def test_keeps_every_item_exactly() -> None:
    items = DiskSet()
    added = [f"2024-05-01 Doc {i}.pdf" for i in range(5000)]
    assert all(items.add(name) for name in added)
    assert not items.add(added[0])  # again: not new
    items.update(added[:10])
    assert len(items) == 5000
    assert all(name in items for name in added)
    assert not any(f"2024-05-01 Doc {i}.pdf" in items for i in range(5000, 10000))
    assert "" not in items and 3 not in items
    assert "2024-05-01 doc 1.pdf" not in items  # exact, case-sensitive


def test_memory_does_not_follow_the_number_of_items() -> None:
    items = DiskSet()
    tracemalloc.start()
    try:
        for i in range(200_000):
            items.add(f"documents/originals/{i:07d} some long document title.pdf")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        items.close()
    assert peak < 1 << 20, peak  # a Python set of these strings would hold ~25 MB


def test_a_saturated_filter_still_answers_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 bits of filter: nearly every item "may" be there, so SQLite and the pending
    # items answer, across several flushes
    monkeypatch.setattr(diskset, "_MASK", 63)
    items = DiskSet()
    added = [f"originals/{i:05d}.pdf" for i in range(3 * diskset.PENDING + 7)]
    assert all(items.add(name) for name in added)
    assert not any(items.add(name) for name in added[:: diskset.PENDING // 3])
    assert len(items) == len(added)
    assert all(name in items for name in added)
    assert not any(f"originals/{i:05d}.pdf" in items for i in range(len(added), 2 * len(added)))
