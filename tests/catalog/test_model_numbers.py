"""Catalog schema 4 inside catalog/: model labels in, model labels out (their numbers stay
inside), and file checksums kept as raw bytes when they are lowercase hex, as text else."""

from __future__ import annotations

from pathlib import Path

from snapexport.catalog import Catalog, checksums
from snapexport.catalog.staging import FileVersion, Staging, apply_staging

MD5 = "0123456789abcdef0123456789abcdef"
SHA256 = "ab" * 32
ODD = ["0123456789ABCDEF0123456789ABCDEF", "not-a-checksum", "abc", "g" * 32, ""]


def test_hex_checksums_are_packed_and_others_kept() -> None:
    assert checksums.pack(MD5) == bytes.fromhex(MD5)
    assert checksums.pack(SHA256) == bytes.fromhex(SHA256)
    assert checksums.pack(None) is None
    for value in ODD:
        assert checksums.pack(value) == value


def _commit(
    cat: Catalog, tmp: Path, seq: int, seen: list, new: list, files: list[FileVersion]
) -> None:
    """Snapshot ``seq``: records ``seen`` (``new`` among them get a new span), files."""
    text = b'{"x": 1}'  # staged plain: compressed as it joins the catalog
    with Staging(tmp) as stage:
        stage.seen([(m, pk, i) for i, (m, pk) in enumerate(seen)])
        stage.record_data(b"h" * 32, text)
        for model, pk in new:
            stage.new_span(model, pk, b"h" * 32, None, pk.encode(), None)
        for f in files:
            stage.seen_file(f.path)
            if seq == 1:
                stage.new_file(f)
        path = stage.seal()
        cat.conn.execute("ATTACH DATABASE ? AS stage", (str(path),))
        try:
            with cat.transaction() as conn:
                apply_staging(conn, seq, ["aa.first", "documents.document", "zz.last"])
        finally:
            cat.conn.execute("DETACH DATABASE stage")


def _file(path: str, owner: str | None, checksum: str | None) -> FileVersion:
    return FileVersion(path, "original", owner, "1" if owner else None, path.encode() * 4,
                       10, 5, 0o644, None, checksum)  # fmt: skip


def test_labels_in_and_out_numbers_inside(tmp_path: Path) -> None:
    cat = Catalog.memory()
    files = [_file(f"f{i}", "documents.document" if i else None, c)
             for i, c in enumerate([MD5, SHA256, None, *ODD])]  # fmt: skip
    with cat.transaction():
        for f in files:
            cat.content.insert_blob(f.blob, 10, [f.blob])
    first = [("zz.last", "1"), ("documents.document", "1")]
    _commit(cat, tmp_path, 1, first, first, files)
    # numbered in label order within the snapshot that first used them
    rows = cat.conn.execute("SELECT id, name FROM models ORDER BY id").fetchall()
    assert rows == [(1, "documents.document"), (2, "zz.last")]
    _commit(cat, tmp_path, 2, [("aa.first", "1"), ("zz.last", "1")], [("aa.first", "1")], files)
    rows = cat.conn.execute("SELECT id, name FROM models ORDER BY id").fetchall()
    assert rows == [(1, "documents.document"), (2, "zz.last"), (3, "aa.first")]
    assert list(cat.spans.current_spans("zz.last", ["1"])) == ["1"]
    assert cat.spans.count_model(2, "documents.document") == 0
    assert cat.spans.count_model(1, "documents.document") == 1
    assert [r.model for r in cat.spans.records_of(2, "aa.first")] == ["aa.first"]
    # checksums come back as they went in, whatever is stored
    stored = dict(cat.conn.execute("SELECT path, checksum FROM file_spans WHERE died IS NULL"))
    assert stored["f0"] == bytes.fromhex(MD5) and stored["f1"] == bytes.fromhex(SHA256)
    assert stored["f3"] == ODD[0] and stored["f2"] is None
    current = cat.spans.current_files([f.path for f in files])
    assert [current[f.path].checksum for f in files] == [f.checksum for f in files]
    held = {f.path: f for f in cat.spans.files(2)}
    assert [held[f.path].checksum for f in files] == [f.checksum for f in files]
    assert held["f1"].owner_model == "documents.document" and held["f0"].owner_model is None
    assert set(cat.spans.files_of(2, "documents.document", ["1"])["1"]) == {"original"}
    for f in files:
        if f.checksum:
            assert cat.spans.blob_by_checksum(f.checksum, 10, 5) is not None
    assert cat.spans.blob_by_checksum("ff" * 16, 10, 5) is None
    cat.close()


def test_an_older_text_checksum_is_still_found(tmp_path: Path) -> None:
    cat = Catalog.memory()
    with cat.transaction() as conn:
        cat.content.insert_blob(b"b" * 32, 3, [b"b" * 32])
        conn.execute(
            "INSERT INTO file_spans (path, role, blob, size, mtime_ns, mode, checksum, born)"
            " VALUES ('old.pdf', 'original', ?, 3, 4, 420, ?, 1)",
            (b"b" * 32, MD5),
        )
    assert cat.spans.blob_by_checksum(MD5, 3, 4) == b"b" * 32
    assert cat.spans.current_files(["old.pdf"])["old.pdf"].checksum == MD5
    cat.close()
