"""The snapshot builder in-process, on a small hand-written source over real files.

What the demo site cannot easily show: a database whose order disagrees with the sort keys
(a collation), fingerprints that change while the text does not, removals.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import blake3

from snapexport.catalog import snapshots as snaps
from snapexport.snapshot import SnapshotOptions, take_snapshot
from snapexport.snapshots import CatalogView
from snapexport.source.base import FileRef, RowRef, SerializedRecord, SiteInfo
from snapexport.store import Store

MODEL = "shelf.item"


@dataclass
class TableSource:
    """One model; rows are (pk, name, sort position), yielded in list order."""

    rows_: list[tuple[int, str, int]]
    salt: str = ""  # changes fingerprints without changing any text
    files_: list[FileRef] = field(default_factory=list)
    serialized: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def open(self) -> Iterator[None]:
        yield

    def info(self) -> SiteInfo:
        return SiteInfo("django", (MODEL,), None, "UTC", {})

    def _text(self, pk: int, name: str) -> str:
        record = {"model": MODEL, "pk": pk, "fields": {"name": name}}
        return json.dumps(record, indent=2, ensure_ascii=False)

    def rows(self, model: str) -> Iterator[RowRef]:
        for pk, name, pos in self.rows_:
            fp = blake3.blake3(f"{self.salt}{pk}{name}".encode()).digest()
            yield RowRef(json.dumps(pk), fp, pos.to_bytes(4, "big"))

    def serialize(self, model: str, pks: Sequence[str]) -> Iterator[SerializedRecord]:
        by_pk = {json.dumps(pk): (pk, name) for pk, name, _ in self.rows_}
        for key in pks:
            self.serialized.append(key)
            pk, name = by_pk[key]
            yield SerializedRecord(key, self._text(pk, name))

    def files(self) -> Iterator[FileRef]:
        return iter(self.files_)


def _names(store: Store, seq: int) -> list[str]:
    view = CatalogView(store, snaps.get_by_seq(store.catalog.conn, seq))
    return [json.loads(r.text)["fields"]["name"] for r in view.records(MODEL)]


def test_database_order_is_kept_where_it_disagrees_with_sort_keys(tmp_path: Path) -> None:
    # The "database" returns b, a, c although the sort keys say a < b < c (a collation).
    source = TableSource([(2, "b", 2), (1, "a", 1), (3, "c", 3)])
    with Store.init(tmp_path / "store") as store:
        first = take_snapshot(store, source)
        assert _names(store, first.meta.seq) == ["b", "a", "c"]
        in_order = take_snapshot(store, TableSource([(1, "a", 1), (2, "b", 2), (3, "c", 3)]))
        assert _names(store, in_order.meta.seq) == ["a", "b", "c"]
        assert _names(store, first.meta.seq) == ["b", "a", "c"]  # history unchanged


def test_new_fingerprint_same_text_stores_nothing_and_is_not_serialized_again(
    tmp_path: Path,
) -> None:
    rows = [(1, "a", 1), (2, "b", 2)]
    with Store.init(tmp_path / "store") as store:
        take_snapshot(store, TableSource(rows))
        salted = TableSource(rows, salt="x")
        second = take_snapshot(store, salted)
        assert second.records["changed"] == 0 and second.records["unchanged"] == 2
        assert len(salted.serialized) == 2  # new fingerprints: serialized once, text equal
        again = TableSource(rows, salt="x")
        take_snapshot(store, again)
        assert again.serialized == []  # the refreshed fingerprints now match


def test_removed_rows_and_files_leave_the_next_snapshot_only(tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("hello")
    ref = FileRef("docs/doc.txt", doc, "file", MODEL, "1")
    with Store.init(tmp_path / "store") as store:
        one = take_snapshot(store, TableSource([(1, "a", 1), (2, "b", 2)], files_=[ref]))
        two = take_snapshot(store, TableSource([(1, "a", 1)]))
        assert two.records["removed"] == 1
        assert _names(store, two.meta.seq) == ["a"]
        assert _names(store, one.meta.seq) == ["a", "b"]
        conn = store.catalog.conn
        old = CatalogView(store, snaps.get_by_seq(conn, one.meta.seq))
        new = CatalogView(store, snaps.get_by_seq(conn, two.meta.seq))
        (f,) = list(old.files())
        assert b"".join(old.read(f)) == b"hello"
        assert list(new.files()) == []
        assert old.files_of(MODEL, "1")["file"].path == "docs/doc.txt"


def test_verify_records_catches_a_fast_path_that_would_keep_stale_text(tmp_path: Path) -> None:
    import pytest

    from snapexport.snapshot import RecordVerificationError

    with Store.init(tmp_path / "store") as store:
        take_snapshot(store, TableSource([(1, "a", 1)]))

        class Lying(TableSource):
            def rows(self, model: str) -> Iterator[RowRef]:  # fingerprint ignores the name
                for pk, _name, pos in self.rows_:
                    yield RowRef(json.dumps(pk), blake3.blake3(f"{pk}a".encode()).digest(),
                                 pos.to_bytes(4, "big"))  # fmt: skip

        assert take_snapshot(store, Lying([(1, "renamed", 1)])).records["changed"] == 0
        with pytest.raises(RecordVerificationError, match=r"shelf\.item pk=1"):
            take_snapshot(store, Lying([(1, "renamed", 1)]), SnapshotOptions(verify_records=True))
