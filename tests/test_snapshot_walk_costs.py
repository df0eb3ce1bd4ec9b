"""The cheap forms the snapshot walk uses give what the plain forms give: seen files
written in batches, file locations as strings, current spans as tuples."""

from __future__ import annotations

import sqlite3
from pathlib import Path, PurePath

from hypothesis import given, settings
from hypothesis import strategies as st

from snapexport.catalog import records as spans
from snapexport.catalog.db import Catalog
from snapexport.catalog.staging import Staging
from snapexport.source.base import FileRef
from snapexport.source.paperless import _plain_name, _ref


def test_seen_files_are_all_written_across_batches(tmp_path: Path) -> None:
    stage = Staging(tmp_path)
    try:
        paths = [f"documents/originals/{i:07}.pdf" for i in range(2_345)]
        for path in [*paths, *paths[:10]]:  # repeats are ignored
            stage.seen_file(path)
        sealed = stage.seal()
        with sqlite3.connect(sealed) as conn:
            got = [p for (p,) in conn.execute("SELECT path FROM seen_files ORDER BY path")]
        assert got == sorted(paths)
    finally:
        stage.discard()


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="/.ab-", max_size=12))
def test_plain_names_are_what_purepath_makes_of_them(name: str) -> None:
    folder = Path("/srv/media/documents/originals")
    ref = _ref((folder, "documents/originals"), name, "original", "1", None)
    assert ref.path == f"documents/originals/{PurePath(name).as_posix()}"
    assert ref.abs_path == folder / name
    if _plain_name(name):
        assert PurePath(name).as_posix() == name
        assert ref.location == str(folder / name)


def test_a_ref_is_read_from_its_location(tmp_path: Path) -> None:
    root = Path("/")
    assert _ref((root, "x"), "a.pdf", "original", "1", None).location == "/a.pdf"
    ref = FileRef("a", tmp_path / "a", "file")
    assert ref.abs_path == tmp_path / "a" and ref.location == tmp_path / "a"
    assert FileRef("a", str(tmp_path / "a"), "file").abs_path == tmp_path / "a"


def test_current_spans_and_files_read_back_as_named_tuples() -> None:
    cat = Catalog.memory()
    conn = cat.conn
    conn.execute("INSERT INTO models (name) VALUES ('m')")
    conn.execute(
        "INSERT INTO record_spans (model, pk, hash, fingerprint, sort_key, extra, born)"
        " VALUES ((SELECT id FROM models WHERE name = 'm'), '1', x'aa', x'bb', x'cc', '{}', 1)"
    )
    conn.execute(
        "INSERT INTO file_spans (path, role, blob, size, mtime_ns, mode, inode, checksum, born)"
        " VALUES ('p', 'file', x'dd', 3, 4, 5, 6, 'c', 1)"
    )
    span = spans.current_spans(conn, "m", ["1", "2"])
    assert list(span) == ["1"]
    s = span["1"]
    assert (s.hash, s.fingerprint, s.sort_key, s.extra) == (b"\xaa", b"\xbb", b"\xcc", "{}")
    f = spans.current_files(conn, ["p", "q"])["p"]
    assert (f.blob, f.size, f.mtime_ns, f.mode, f.inode, f.checksum) == (b"\xdd", 3, 4, 5, 6, "c")
    cat.close()
