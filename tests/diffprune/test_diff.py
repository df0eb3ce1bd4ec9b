"""``snapexport diff A B`` on the demo site: every kind of change, named and counted."""

from __future__ import annotations

import json
from typing import Any

from dp_site import DiffStore, cli, ok

from snapexport.catalog import snapshots as snaps
from snapexport.diff import diff_snapshots
from snapexport.store import Store


def _diff_json(ds: DiffStore, a: str, b: str, *extra: str) -> dict[str, Any]:
    return dict(json.loads(ok("diff", "--store", ds.store, a, b, "--json", *extra)))


def _docs(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {c["pk"]: c for c in result["changes"] if c["model"] == "documents.document"}


def test_every_kind_of_document_change(diff_store: DiffStore) -> None:
    ds, facts = diff_store, diff_store.facts
    docs = _docs(_diff_json(ds, ds.a[:8], ds.b[:8]))
    assert docs[2]["kind"] == "metadata changed"
    assert docs[2]["what"] == ["metadata (title)"]
    assert docs[2]["fields"][0]["before"] == facts["title_before"]
    assert docs[2]["fields"][0]["after"] == "Invoice 3 (paid)"
    tags = {f["name"]: f for f in docs[4]["fields"]}["tags"]
    assert tags["added"] == facts["tags_added"] and tags["removed"] == facts["tags_removed"]
    assert docs[4]["what"] == ["metadata (tags)"]
    corr = {f["name"]: f for f in docs[5]["fields"]}["correspondent"]
    assert corr["after"] == facts["correspondent"]  # by name, not pk
    assert docs[facts["cfi_doc"]]["what"] == ["custom fields"]
    assert docs[facts["cfi_doc"]]["kind"] == "metadata changed"
    assert docs[8]["what"] == ["notes"]
    assert docs[10]["kind"] == "trashed"
    assert docs[facts["restored"]]["kind"] == "restored"
    assert docs[12]["kind"] == "content changed"
    assert docs[12]["what"][0] == "content (original)"
    assert docs[facts["archive_doc"]]["kind"] == "content changed"
    assert docs[facts["archive_doc"]]["what"][0] == "content (archive)"
    assert docs[14]["kind"] == "removed"
    assert docs[facts["added"]]["kind"] == "added"
    assert docs[facts["added"]]["label"].endswith('"Brand new"')
    changed = {2, 4, 5, 8, 10, 12, 14, facts["cfi_doc"], facts["restored"]}
    changed |= {facts["archive_doc"], facts["added"]}
    assert set(docs) == changed


def test_other_models_counts_and_order(diff_store: DiffStore) -> None:
    ds, facts = diff_store, diff_store.facts
    result = _diff_json(ds, ds.a, ds.b)
    models = result["models"]
    assert models["documents.document"] == {
        "added": 1,
        "removed": 1,
        "trashed": 1,
        "restored": 1,
        "content changed": 2,
        "metadata changed": 5,
    }
    assert models["documents.note"]["added"] == 1
    cfi = [c for c in result["changes"] if c["model"] == "documents.customfieldinstance"]
    assert next(c["pk"] for c in cfi if c["kind"] == "changed") == facts["cfi"]
    value = {f["name"]: f for f in cfi[0]["fields"]}
    assert value["value_int"]["after"] == 4242
    assert result["files"]["added"] >= 2 and result["files"]["removed"] >= 2
    # Documents first, then models by name, each by numeric pk.
    keys = [(c["model"] != "documents.document", c["model"]) for c in result["changes"]]
    assert keys == sorted(keys)
    doc_pks = [c["pk"] for c in result["changes"] if c["model"] == "documents.document"]
    assert doc_pks == sorted(doc_pks) and doc_pks[-1] == facts["added"] > 40


def test_human_output_fields_stat_and_direction(diff_store: DiffStore) -> None:
    ds, facts = diff_store, diff_store.facts
    text = ok("diff", "--store", ds.store, ds.a, ds.b, "--fields")
    assert f'      title: "{facts["title_before"]}" → "Invoice 3 (paid)"' in text
    assert f"      tags: +{facts['tags_added'][0]} -{facts['tags_removed'][0]}" in text
    assert '+  document {} "Brand new"'.format(facts["added"]) in text
    assert "-  document 14 " in text
    assert "documents: 1 added, 2 content changed, 5 metadata changed, 1 removed" in text
    stat = ok("diff", "--store", ds.store, ds.a, ds.b, "--stat")
    assert not any(line.startswith(("M ", "+ ", "- ")) for line in stat.splitlines())
    assert "documents: 1 added" in stat
    backwards = _docs(_diff_json(ds, ds.b, ds.a))
    assert backwards[facts["added"]]["kind"] == "removed"
    assert backwards[14]["kind"] == "added"
    assert backwards[10]["kind"] == "restored"


def test_tag_latest_and_no_change(diff_store: DiffStore) -> None:
    ds = diff_store
    tagged = _diff_json(ds, "latest~1", "latest", "--tag", "t")
    assert (tagged["a"], tagged["b"]) == (ds.a, ds.b)
    plain = _diff_json(ds, "latest~1", "latest")
    assert (plain["a"], plain["b"]) == (ds.b, ds.c)
    assert plain["changes"] == [] and plain["files"] == {}
    assert "no changes" in ok("diff", "--store", ds.store, "latest~1", "latest")


def test_bad_snapshots_exit_2(diff_store: DiffStore) -> None:
    ds = diff_store
    for a, b in (("deadbeef", "latest"), ("latest", "latest~9"), ("latest", "nonsense-name")):
        done = cli("diff", "--store", ds.store, a, b)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("snapexport: error: ")


def test_library_call_reads_only_the_changes(diff_store: DiffStore) -> None:
    ds = diff_store
    with Store.open(ds.store) as store:
        conn = store.catalog.conn
        a, b = snaps.resolve(conn, ds.a), snaps.resolve(conn, ds.b)
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        result = diff_snapshots(store.catalog.changes, a, b)
        conn.set_trace_callback(None)
    assert not result.is_empty()
    # No statement walks a whole table: every span query is bounded by born/died.
    spans = [s for s in statements if "FROM record_spans" in s or "FROM file_spans" in s]
    assert spans and all("born" in s or "died IS NULL" in s for s in spans)
