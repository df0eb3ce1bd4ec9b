"""Property: after any sequence of snapshots, nights, forgets and prunes (in one writer or
many), the catalog rebuilt from the store's packs alone equals the live one row for row.

Snapshots are written in-process through the real staging and commit path of the catalog
(two models, a few files), so hypothesis can run many sequences in seconds; the real CLI
end to end is covered by test_journal_cli.py.
"""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
import tempfile
from pathlib import Path

import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from journal_site import tables

from snapexport.catalog.staging import FileVersion, Staging
from snapexport.prune import plan_ids, run_prune
from snapexport.store import Store
from snapexport.store.chunker import ChunkerParams
from snapexport.store.opened import rebuild_catalog
from snapexport.values import SnapshotMeta

MODELS = ("app.alpha", "app.beta")
SMALL = ChunkerParams(min_size=256, avg_size=1024, max_size=4096)

# A site is (records: {(model, pk): text}, files: {path: bytes}); an operation changes it
# and takes a snapshot, or forgets, or prunes, or closes the writer (publishing a delta).
record_key = st.tuples(st.sampled_from(MODELS), st.integers(0, 12).map(str))
edit = st.tuples(record_key, st.one_of(st.none(), st.text(min_size=1, max_size=40)))
file_edit = st.tuples(
    st.sampled_from(["a.pdf", "b.pdf", "c.txt"]),
    st.one_of(st.none(), st.binary(min_size=1, max_size=3000)),
)
operation = st.one_of(
    st.tuples(st.just("snapshot"), st.lists(edit, max_size=6), st.lists(file_edit, max_size=2)),
    st.tuples(st.just("forget"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("close")),
)


def _snapshot(store: Store, records: dict[tuple[str, str], str], files: dict[str, bytes]) -> None:
    catalog = store.catalog
    with Staging(store.tmp_dir) as stage:
        for model in MODELS:
            pks = sorted(pk for m, pk in records if m == model)
            current = catalog.spans.current_spans(model, pks)
            stage.seen([(model, pk, i) for i, pk in enumerate(pks)])
            for pk in pks:
                text = records[(model, pk)].encode()
                digest = blake3.blake3(text).digest()
                span = current.get(pk)
                if span is not None and span.hash == digest:
                    continue
                if span is not None:
                    stage.kill(span.id)
                stage.record_data(digest, text)  # staged plain
                stage.new_span(model, pk, digest, None, pk.encode(), None)
        for path, data in sorted(files.items()):
            stage.seen_file(path)
            ref = store.put_bytes(data)
            now = catalog.spans.current_files([path]).get(path)
            if now is not None and now.blob == ref.id:
                continue
            if now is not None:
                stage.kill_file(now.id)
            stage.new_file(FileVersion(path, "file", None, None, ref.id, len(data), 1, 0o600,
                                       None, None))  # fmt: skip
        store.flush()
        staged = stage.seal()

        def build(t: object) -> SnapshotMeta:
            return SnapshotMeta(
                id=secrets.token_hex(32), seq=t.seq,  # type: ignore[attr-defined]
                time=dt.datetime.now(dt.UTC), host="h", profile="django", tags=(),
                complete=True, info={"sections": list(MODELS)}, stats={},
            )  # fmt: skip

        catalog.snapshots.commit(staged, MODELS, count_model=MODELS[0], build=build)


def _run(root: Path, ops: list[tuple]) -> None:
    path = root / "store"
    Store.init(path, chunker=SMALL, pack_size=8 * 1024).close()
    records: dict[tuple[str, str], str] = {}
    files: dict[str, bytes] = {}
    store = Store.open(path, write=True)
    try:
        for op in ops:
            if op[0] == "snapshot":
                for key, text in op[1]:
                    if text is None:
                        records.pop(key, None)
                    else:
                        records[key] = text
                for name, data in op[2]:
                    if data is None:
                        files.pop(name, None)
                    else:
                        files[name] = data
                _snapshot(store, records, files)
            elif op[0] == "forget":
                snaps = store.catalog.snapshots.all()
                if snaps:
                    victim = snaps[op[1] % len(snaps)].id
                    run_prune(store, plan_ids(store.catalog, [victim]), collect=op[2])
            else:
                store.close()
                store = Store.open(path, write=True)
    finally:
        store.close()
    copy = Path(shutil.copytree(path, root / "copy"))
    for name in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"):
        (copy / name).unlink(missing_ok=True)
    rebuild_catalog(copy)
    live, rebuilt = tables(path / "catalog.sqlite"), tables(copy / "catalog.sqlite")
    for table in live:
        assert live[table] == rebuilt[table], table


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=12))
def test_rebuilt_catalog_equals_the_live_one(ops: list[tuple]) -> None:
    with tempfile.TemporaryDirectory(prefix="journal-prop-") as tmp:
        _run(Path(tmp), ops)
