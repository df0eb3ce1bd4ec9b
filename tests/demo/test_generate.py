"""The demo generator: deterministic sites, valid small files, nightly changes."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from snapexport.demo import files as demo_files


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=environment, timeout=300
    )


def fingerprint(folder: Path) -> tuple[str, str]:
    db = sqlite3.connect(folder / "db.sqlite3")
    dump = "\n".join(db.iterdump())
    db.close()
    media = hashlib.sha256()
    for path in sorted((folder / "media").rglob("*")):
        if path.is_file() and path.name != "media.lock":
            stat = path.stat()
            media.update(f"{path.relative_to(folder)} {stat.st_mtime_ns} ".encode())
            media.update(hashlib.sha256(path.read_bytes()).digest())
    return hashlib.sha256(dump.encode()).hexdigest(), media.hexdigest()


def test_same_seed_same_site_and_nights(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        done = run("-m", "snapexport.demo.generate", "create", str(folder), "--documents", "40")
        assert done.returncode == 0, done.stderr
    assert fingerprint(a) == fingerprint(b)
    created = fingerprint(a)
    for folder in (a, b):
        for seed in ("1", "2"):
            done = run("-m", "snapexport.demo.generate", "night", str(folder), "--seed", seed)
            assert done.returncode == 0, done.stderr
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != created


def test_night_changes_documents(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    assert run("-m", "snapexport.demo.generate", "create", str(folder)).returncode == 0
    db = sqlite3.connect(folder / "db.sqlite3")
    before = db.execute("select max(id), count(*) from documents_document").fetchone()
    titles = dict(db.execute("select id, title || filename || modified from documents_document"))
    db.close()
    assert before[1] == 202  # 200 documents and 2 versions
    assert run("-m", "snapexport.demo.generate", "night", str(folder)).returncode == 0
    db = sqlite3.connect(folder / "db.sqlite3")
    after = db.execute("select max(id), count(*) from documents_document").fetchone()
    now = dict(db.execute("select id, title || filename || modified from documents_document"))
    names = [n for (n,) in db.execute("select filename from documents_document")]
    trashed = db.execute(
        "select count(*) from documents_document where deleted_at is not null"
    ).fetchone()[0]
    db.close()
    assert after[0] > before[0]  # new documents
    assert any(titles[k] != now[k] for k in now if k in titles)  # edits
    assert set(titles) - set(now)  # deletions
    assert trashed > 0
    for name in names:  # files follow renames
        assert (folder / "media/documents/originals" / name).is_file()


def test_in_process_call_falls_back_to_a_subprocess(tmp_path: Path) -> None:
    # A process already running another Django site cannot set up the demo's: create_site
    # must notice and build the site in a subprocess. Run that in a fresh interpreter so
    # this test process's own Django (the demo fixtures' site) is left alone.
    script = (
        "import django, sys\n"
        "from django.conf import settings\n"
        "settings.configure(INSTALLED_APPS=[], DATABASES={})\n"
        "django.setup()\n"
        "from pathlib import Path\n"
        "from snapexport.demo.generate import create_site\n"
        "create_site(Path(sys.argv[1]), documents=5, seed=1)\n"
    )
    done = run("-c", script, str(tmp_path / "x"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x" / "db.sqlite3").is_file()


def test_manage_py_snapexport_forwards_to_the_cli(tmp_path: Path) -> None:
    assert run("-m", "snapexport.demo.generate", "create", str(tmp_path), "--documents", "3")
    done = run(
        "-m",
        "django",
        "snapexport",
        "--version",
        "--settings",
        "snapexport.demo.settings",
        env={"SNAPEXPORT_DEMO_DIR": str(tmp_path), "PAPERLESS_APPS": "snapexport"},
    )
    assert done.returncode == 0, done.stderr
    assert "snapexport, version" in done.stdout


def test_pdf_is_well_formed() -> None:
    pdf = demo_files.make_pdf(["Hello (world) \\ ✓"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    xref_at = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref_at:].startswith(b"xref\n0 6\n")
    offsets = [int(line[:10]) for line in pdf[xref_at:].split(b"\n")[3:8]]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj" % number)


def test_png_is_well_formed() -> None:
    png = demo_files.make_png(8, 8, (10, 20, 30))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, kinds = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + data) == crc
        if kind == b"IDAT":
            assert len(zlib.decompress(data)) == 8 * (1 + 8 * 3)
        kinds.append(kind)
        pos += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]


def test_webp_is_a_riff_vp8l_image() -> None:
    webp = demo_files.make_webp((255, 1, 2, 3))
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP" and webp[12:16] == b"VP8L"
    assert struct.unpack("<I", webp[4:8])[0] == len(webp) - 8
    size = struct.unpack("<I", webp[16:20])[0]
    assert webp[20] == 0x2F  # VP8L signature
    bits = int.from_bytes(webp[21:25], "little")
    assert bits & 0x3FFF == 0 and (bits >> 14) & 0x3FFF == 0  # 1 x 1
    assert len(webp) in (20 + size, 21 + size)
