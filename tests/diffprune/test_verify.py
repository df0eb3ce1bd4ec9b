"""``snapexport diff SNAPSHOT PATH``: an export on disk against its snapshot (exit 0/1/2)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from dp_site import DiffStore, cli, ok

from snapexport.materialize import ExportOptions, materialize
from snapexport.snapshots import open_view
from snapexport.store import Store
from snapexport.verify import compare_export


def _export(ds: DiffStore, dest: Path, spec: str = "latest", **flags: bool) -> Path:
    """Materialize in-process (no Django involved); returns the folder or the zip."""
    dest.mkdir(parents=True)
    with Store.open(ds.store) as store:
        result = materialize(open_view(store, spec), dest, ExportOptions(**flags))
    return result.path


def _diff(ds: DiffStore, path: Path, spec: str = "latest") -> tuple[int, list[str]]:
    done = cli("diff", "--store", ds.store, spec, path)
    return done.returncode, done.stdout.splitlines() + done.stderr.splitlines()


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def folder(diff_store: DiffStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _export(diff_store, tmp_path_factory.mktemp("verify") / "plain")


def test_identical_folder_and_zip_exit_0(
    diff_store: DiffStore, folder: Path, tmp_path: Path
) -> None:
    code, lines = _diff(diff_store, folder)
    assert code == 0, lines
    assert lines[-1].endswith("identical")
    zipped = _export(diff_store, tmp_path / "z", zip=True)
    code, lines = _diff(diff_store, zipped)
    assert code == 0, lines
    assert "(--zip)" in lines[0]


@pytest.mark.parametrize(
    "flags",
    [
        {"use_folder_prefix": True, "split_manifest": True, "use_filename_format": True},
        {"zip": True, "split_manifest": True, "no_thumbnail": True, "no_archive": True},
        {"data_only": True, "use_folder_prefix": True},
    ],
    ids=["p-sm-f", "z-sm-nt-na", "data-only-p"],
)
def test_flags_are_detected(diff_store: DiffStore, tmp_path: Path, flags: dict[str, bool]) -> None:
    path = _export(diff_store, tmp_path / "x", **flags)
    with Store.open(diff_store.store) as store:
        result = compare_export(store, "latest", path)
    assert result.identical, result.differences
    expected = {f"--{k.replace('_', '-')}" for k, on in flags.items() if on}
    assert set(result.flag_words()) == expected
    assert result.records_checked > 200


def test_one_flipped_byte_names_the_file(
    diff_store: DiffStore, folder: Path, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(folder, tmp_path / "copy"))
    victim = sorted(p for p in copy.glob("*.pdf"))[3]
    _flip(victim)
    code, lines = _diff(diff_store, copy)
    assert code == 1
    assert f"M  different file {victim.name}: content differs (same size)" in lines
    assert lines[-1].endswith("1 difference(s)")


def test_changed_record_missing_and_extra_files(
    diff_store: DiffStore, folder: Path, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(folder, tmp_path / "copy"))
    manifest = copy / "manifest.json"
    text = manifest.read_text()
    assert text.count('"title": "Invoice 3 (paid)"') == 1
    manifest.write_text(text.replace('"title": "Invoice 3 (paid)"', '"title": "Invoice 3"'))
    thumb = sorted(copy.glob("*-thumbnail.webp"))[0]
    thumb.unlink()
    (copy / "stray.txt").write_text("left over\n")
    done = cli("diff", "--store", diff_store.store, "latest", copy, "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    found = {(d["kind"], d["what"], d["name"]) for d in report["differences"]}
    assert found == {
        ("different", "record", "documents.document 2"),
        ("missing", "file", thumb.name),
        ("extra", "file", "stray.txt"),
    }
    record = next(d for d in report["differences"] if d["what"] == "record")
    assert record["detail"].startswith('title: "Invoice 3 (paid)" in the snapshot')


def test_zip_with_a_changed_entry(diff_store: DiffStore, tmp_path: Path) -> None:
    zipped = _export(diff_store, tmp_path / "z", zip=True)
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(zipped) as src, zipfile.ZipFile(broken, "w") as dst:
        names = [i.filename for i in src.infolist() if i.filename.endswith(".pdf")]
        victim = names[1]
        for info in src.infolist():
            data = src.read(info)
            if info.filename == victim:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(info, data)
    code, lines = _diff(diff_store, broken)
    assert code == 1
    assert f"M  different file {victim}: content differs (same size)" in lines


def test_older_snapshot_against_newer_export(diff_store: DiffStore, folder: Path) -> None:
    code, lines = _diff(diff_store, folder, diff_store.a)
    assert code == 1
    assert any("documents.document 2: " in line and "title" in line for line in lines)
    assert any(line.startswith("+  extra record documents.document ") for line in lines)


def test_bad_inputs_exit_2(diff_store: DiffStore, folder: Path, tmp_path: Path) -> None:
    assert _diff(diff_store, folder, "abcdef12")[0] == 2
    not_export = tmp_path / "empty"
    not_export.mkdir()
    code, lines = _diff(diff_store, not_export)
    assert code == 2 and "not an export" in lines[-1]
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    assert _diff(diff_store, junk)[0] == 2
    assert _diff(diff_store, tmp_path / "missing" / "x")[0] == 2


def test_sha256_fallback_without_an_id_function(
    diff_store: DiffStore, folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = Path(shutil.copytree(folder, tmp_path / "copy"))
    victim = sorted(copy.glob("*.pdf"))[0]
    _flip(victim)
    with Store.open(diff_store.store) as store:
        monkeypatch.setattr("snapexport.verify.sink.id_hasher", lambda store: None)
        same = compare_export(store, "latest", folder)
        other = compare_export(store, "latest", copy)
    assert same.identical
    assert [(d.kind, d.name) for d in other.differences] == [("different", victim.name)]
    assert ok("diff", "--store", diff_store.store, "latest", folder, "--json")
