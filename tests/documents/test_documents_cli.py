"""ls, find, history, restore and dump on a demo store after a night (the real CLI)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.sitetools import env_for, tree


def _manifest_names(folder: Path) -> dict[int, dict[str, Any]]:
    records = json.loads((folder / "manifest.json").read_text())
    return {r["pk"]: r for r in records if r["model"] == "documents.document"}


def test_find_locates_a_document_deleted_that_night(night_store: Any) -> None:
    ns = night_store
    assert ns.deleted, "the night deleted no document"
    for pk in ns.deleted:
        title = ns.docs_before[pk]["title"]
        found = ns.json("find", "--store", ns.store, title)
        assert found["query"] == title
        doc = next(d for d in found["documents"] if d["id"] == pk)
        assert doc["state"] == "deleted"
        assert doc["deleted_in"]["id"] == ns.after
        assert doc["versions"][-1]["last"]["id"] == ns.before
        assert doc["versions"][-1]["checksum"] == ns.docs_before[pk]["checksum"]
    text = ns.ok("find", "--store", ns.store, ns.docs_before[ns.deleted[0]]["title"])
    assert f"deleted: gone from snapshot {ns.after[:8]}" in text
    assert ns.before[:8] in text


def test_find_by_checksum_prefix_and_correspondent(night_store: Any) -> None:
    ns = night_store
    pk, row = next(iter(sorted(ns.docs_after.items())))
    prefix = row["checksum"][:10]
    found = ns.json("find", "--store", ns.store, prefix)
    rows = {**ns.docs_before, **ns.docs_after}
    same = sorted(p for p, r in rows.items() if prefix in (r["checksum"][:10],
                  (r["archive_checksum"] or "")[:10]))  # fmt: skip
    assert pk in same and [d["id"] for d in found["documents"]] == same
    nothing = ns.json("find", "--store", ns.store, "no such words zqxj")
    assert nothing["documents"] == []


def test_restore_of_deleted_document_matches_site_checksum(night_store: Any,
                                                           tmp_path: Path) -> None:  # fmt: skip
    ns = night_store
    pk = ns.deleted[0]
    target = tmp_path / "out"
    target.mkdir()
    result = ns.json("restore", "--store", ns.store, "--document", str(pk), target)
    (restored,) = result["documents"]
    assert restored["snapshot"] == ns.before  # the newest snapshot still holding it
    original = target / restored["files"]["original"]
    assert hashlib.sha256(original.read_bytes()).hexdigest() == ns.docs_before[pk]["checksum"]
    records = json.loads((target / result["records"]).read_text())
    (entry,) = records["documents"]
    assert entry["records"][0]["model"] == "documents.document"
    assert entry["records"][0]["pk"] == pk
    # What the REST API's post_document needs, by name (docs/usage.md).
    summary, row = entry["summary"], ns.docs_before[pk]
    assert summary["title"] == row["title"]
    assert summary["created"] == row["created"]
    assert summary["archive_serial_number"] == row["archive_serial_number"]
    assert summary["correspondent"] == row["correspondent_name"]
    assert sorted(summary["tags"]) == sorted(json.loads(row["tag_names"]))
    # The exporter's names: materialize of the same snapshot names the files alike.
    export = tmp_path / "export"
    export.mkdir()
    ns.ok("materialize", "--store", ns.store, ns.before, export)
    named = _manifest_names(export)[pk]
    assert restored["files"]["original"] == named["__exported_file_name__"]
    assert restored["files"].get("thumbnail") == named.get("__exported_thumbnail_name__")
    exported = tree(export)
    for name in restored["files"].values():
        assert (target / name).read_bytes() == exported[name]
    # Refuses to overwrite, and names the file.
    again = ns.run("restore", "--store", ns.store, "--document", str(pk), target)
    assert again.returncode == 2 and "already exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def test_restore_original_only_from_a_named_snapshot(night_store: Any, tmp_path: Path) -> None:
    ns = night_store
    pk = min(ns.docs_after)
    ns.ok("restore", "--store", ns.store, ns.after[:8], "-d", str(pk), "--original-only",
          tmp_path)  # fmt: skip
    (only,) = list(tmp_path.iterdir())
    assert hashlib.sha256(only.read_bytes()).hexdigest() == ns.docs_after[pk]["checksum"]


def test_history_lists_edited_fields(night_store: Any) -> None:
    ns = night_store
    assert ns.edited, "the night edited no title, correspondent or type"
    for pk, fields in ns.edited.items():
        result = ns.json("history", "--store", ns.store, str(pk))
        assert result["id"] == pk
        changes = [e for e in result["events"] if e["kind"] != "added"]
        named = {f["name"] for e in changes for f in e["fields"]}
        assert fields <= named, (pk, fields, result)
        assert all(e["snapshot"]["id"] == ns.after for e in changes)
    pk, fields = next(iter(ns.edited.items()))
    text = ns.ok("history", "--store", ns.store, str(pk))
    assert any(line.strip().startswith(f"{sorted(fields)[0]}:") for line in text.splitlines())


def test_history_of_a_deleted_document_ends_deleted(night_store: Any) -> None:
    ns = night_store
    events = ns.json("history", "--store", ns.store, str(ns.deleted[0]))["events"]
    assert events[0]["kind"] == "added" and events[-1]["kind"] == "deleted"
    assert events[-1]["snapshot"]["id"] == ns.after


def test_ls_names_and_filters_match_materialize(night_store: Any, tmp_path: Path) -> None:
    ns = night_store
    listing = ns.json("ls", "--store", ns.store)
    assert listing["snapshot"] == ns.after
    export = tmp_path / "export"
    export.mkdir()
    ns.ok("materialize", "--store", ns.store, "latest", export)
    named = _manifest_names(export)
    assert {d["id"] for d in listing["documents"]} == set(named)
    for doc in listing["documents"]:
        assert doc["original"] == named[doc["id"]]["__exported_file_name__"]
        assert doc["archive"] == named[doc["id"]].get("__exported_archive_name__")
    tag = next(t for d in listing["documents"] for t in d["tags"])
    tagged = ns.json("ls", "--store", ns.store, "--tag", tag)
    assert tagged["documents"] and all(tag in d["tags"] for d in tagged["documents"])
    expected = [d["id"] for d in listing["documents"] if tag in d["tags"]]
    assert [d["id"] for d in tagged["documents"]] == expected
    first = listing["documents"][0]
    word = first["title"].split()[0]
    titled = ns.json("ls", "--store", ns.store, "--title", f"{word.lower()}*")
    assert first["id"] in {d["id"] for d in titled["documents"]}
    assert all(d["title"].lower().startswith(word.lower()) for d in titled["documents"])
    if first["correspondent"]:
        by = ns.json("ls", "--store", ns.store, "--correspondent", first["correspondent"])
        assert all(d["correspondent"] == first["correspondent"] for d in by["documents"])
    text = ns.ok("ls", "--store", ns.store, ns.before)
    assert text.strip().splitlines()[-1] == (
        f"{len(ns.docs_before)} document(s) in snapshot {ns.before[:8]}"
    )


def test_dump_streams_the_verified_original(night_store: Any) -> None:
    ns = night_store
    pk = ns.deleted[0]
    raw = subprocess.run(
        [sys.executable, "-m", "snapexport", "dump", "--store", str(ns.store), ns.before,
         str(pk)],
        capture_output=True, env=env_for(SNAPEXPORT_CACHE_DIR=str(ns.cache)),
        stdin=subprocess.DEVNULL, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert hashlib.sha256(raw).hexdigest() == ns.docs_before[pk]["checksum"]
    no_archive = next(p for p, r in ns.docs_after.items() if r["archive_checksum"] is None)
    bad = ns.run("dump", "--store", ns.store, "latest", str(no_archive), "--archive")
    assert bad.returncode == 2 and "has no archive" in bad.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("history", "999999"), ["999999", "find"]),
        (("history", "abc"), ["'abc'", "not a document id"]),
        (("ls", "deadbeef"), ["deadbeef"]),
        (("ls", "--tag", "No Such Tag"), ["No Such Tag", "ls"]),
        (("restore", "-d", "999999", "."), ["999999", "find"]),
        (("dump", "latest", "999999"), ["999999"]),
        (("find", " "), ["QUERY"]),
        (("check", "--read-data-subset", "0/4"), ["0/4", "1/4"]),
        (("check", "--read-data-subset", "half"), ["half", "N/M"]),
        (("check", "nosuch"), ["nosuch"]),
        (("snapshots", "--max-age", "soon"), ["soon", "26h"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(night_store: Any, args: tuple[str, ...],
                                          words: list[str]) -> None:  # fmt: skip
    ns = night_store
    done = ns.run(args[0], "--store", ns.store, *args[1:])
    assert done.returncode == 2, (args, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("snapexport: error: "), done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_restore_target_must_be_a_writable_folder(night_store: Any, tmp_path: Path) -> None:
    ns = night_store
    made = ns.run("restore", "--store", ns.store, "-d", "1", tmp_path / "new" / "folder")
    assert made.returncode == 0, made.stderr  # a missing target is made, as materialize does
    assert any((tmp_path / "new" / "folder").iterdir())
    shutil.rmtree(tmp_path / "new")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    not_dir = ns.run("restore", "--store", ns.store, "-d", "1", a_file)
    assert not_dir.returncode == 2 and "is not a folder" in not_dir.stderr
    under_file = ns.run("restore", "--store", ns.store, "-d", "1", a_file / "sub")
    assert under_file.returncode == 2 and "cannot create the restore target" in under_file.stderr
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        done = ns.run("restore", "--store", ns.store, "-d", "1", locked)
        assert done.returncode == 2 and "is not writable" in done.stderr
    assert not any(p.name != "file" for p in tmp_path.iterdir() if p.name != "locked")


def test_restore_by_query(night_store: Any, tmp_path: Path) -> None:
    ns = night_store
    pk = ns.deleted[0]
    title = ns.docs_before[pk]["title"]
    result = ns.json("restore", "--store", ns.store, "--query", title, tmp_path)
    restored = {d["id"]: d for d in result["documents"]}
    assert pk in restored and restored[pk]["snapshot"] == ns.before
    names = [n for d in result["documents"] for n in d["files"].values()]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names, result["records"]])
    nothing = ns.run("restore", "--store", ns.store, "--query", "zqxj no such words", tmp_path)
    assert nothing.returncode == 2 and "no document in any snapshot matches" in nothing.stderr
