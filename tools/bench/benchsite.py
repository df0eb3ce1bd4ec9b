"""A realistic paperless-like site for the benchmark, built on the demo app.

``snapexport.demo.generate`` makes the database (documents, tags, notes, custom fields,
versions, trash) and tiny valid files. This module then *realizes* each document's files at
realistic sizes: originals lognormal (median 250 KB, capped at 20 MB), an archive PDF for
those the demo gives one (about 90%), a WebP-sized thumbnail for every document. The bytes
are PDF-, PNG- or WebP-like: a real header and trailer around a BLAKE3 XOF stream unique to
the file, so they barely compress and never deduplicate across documents (except the
demo's two documents that share one original). Each file keeps the demo's mtime, and the
database checksums are updated to the SHA-256 of the new bytes, as paperless keeps them.

Everything is a function of (documents, seed, night): two runs give the same site.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import sqlite3
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import blake3
from proc import Run, run

KB = 1000
MB = 1000 * KB
SETTINGS = "snapexport.demo.settings"


@dataclass(frozen=True, slots=True)
class SizeModel:
    """File sizes of a realized site (``lognormal``) or the demo's own tiny files (``demo``)."""

    kind: str = "lognormal"
    median: int = 250 * KB
    sigma: float = 1.0
    cap: int = 20 * MB
    archive_ratio: float = 0.8  # median archive size / original size
    thumbnail: int = 12 * KB


@dataclass(frozen=True, slots=True)
class NightShape:
    """The benchmark's night: +1% documents, 2% edits, 0.1% trashed, 0.2% deleted."""

    new_every: int = 100
    edit_every: int = 50
    trash_every: int = 1000
    delete_every: int = 500

    def args(self) -> list[str]:
        return [
            *("--new-every", str(self.new_every), "--edit-every", str(self.edit_every)),
            *("--trash-every", str(self.trash_every), "--delete-every", str(self.delete_every)),
        ]


@dataclass(frozen=True, slots=True)
class _Job:
    path: str
    kind: str  # pdf, png, webp
    key: str
    size: int


class BenchSite:
    """A demo site folder (``db.sqlite3`` and ``media/``) grown night by night."""

    def __init__(
        self,
        folder: Path,
        documents: int,
        seed: int,
        sizes: SizeModel | None = None,
        night_shape: NightShape | None = None,
    ) -> None:
        self.folder = folder
        self.documents = documents
        self.seed = seed
        self.sizes = sizes or SizeModel()
        self.night_shape = night_shape or NightShape()

    @property
    def media(self) -> Path:
        return self.folder / "media" / "documents"

    @property
    def db(self) -> Path:
        return self.folder / "db.sqlite3"

    def env(self) -> dict[str, str]:
        """What a child needs to open this site with the demo settings."""
        return {"SNAPEXPORT_DEMO_DIR": str(self.folder), "TZ": "UTC"}

    def create(self) -> Run:
        """Generate the site and realize every document's files."""
        done = _generate(
            ["create", str(self.folder), "--documents", str(self.documents)],
            ["--seed", str(self.seed)],
        )
        self._realize(after_pk=0)
        return done

    def night(self, number: int) -> Run:
        """Apply night ``number`` (1, 2, ...) and realize the documents it added."""
        top = self._max_pk()
        done = _generate(
            ["night", str(self.folder), "--seed", str(self.seed * 1000 + number)],
            self.night_shape.args(),
        )
        self._realize(after_pk=top)
        return done

    def dump_data(self, target: Path) -> Run:
        """The data-only manifest: Django's ``dumpdata --indent 2`` of the whole site.

        The demo has no ``document_exporter``; ``dumpdata`` serializes the same records
        with the same serializer, which is the cost a ``--data-only`` export pays.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        return run(
            [
                sys.executable,
                *("-m", "django", "dumpdata", "--settings", SETTINGS, "--indent", "2"),
                *("-o", str(target)),
            ],
            env=self.env(),
        )

    def document_count(self) -> int:
        with sqlite3.connect(self.db) as conn:
            return int(conn.execute("SELECT count(*) FROM documents_document").fetchone()[0])

    def _max_pk(self) -> int:
        with sqlite3.connect(self.db) as conn:
            row = conn.execute("SELECT coalesce(max(id), 0) FROM documents_document").fetchone()
            return int(row[0])

    def _realize(self, after_pk: int) -> None:
        if self.sizes.kind == "demo":
            return
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute(
                "SELECT id, mime_type, checksum, filename, archive_filename"
                " FROM documents_document WHERE id > ? ORDER BY id",
                (after_pk,),
            ).fetchall()
            jobs, owners = self._jobs(rows)
            digests = _write_all(jobs)
            originals: dict[int, str] = {}
            archives: dict[int, str] = {}
            for job, (pk, role) in zip(jobs, owners, strict=True):
                if role == "original":
                    originals[pk] = digests[job.path]
                elif role == "archive":
                    archives[pk] = digests[job.path]
            conn.executemany(
                "UPDATE documents_document SET checksum = ? WHERE id = ?",
                [(d, pk) for pk, d in originals.items()],
            )
            conn.executemany(
                "UPDATE documents_document SET archive_checksum = ? WHERE id = ?",
                [(d, pk) for pk, d in archives.items()],
            )

    def _jobs(
        self, rows: Iterable[tuple[int, str, str, str | None, str | None]]
    ) -> tuple[list[_Job], list[tuple[int, str]]]:
        sizes = self.sizes
        jobs: list[_Job] = []
        owners: list[tuple[int, str]] = []
        # Documents that share an original in the demo share it here too.
        content_key: dict[str, int] = {}
        for pk, mime, checksum, filename, archive_filename in rows:
            key_pk = content_key.setdefault(checksum, pk)
            rng = random.Random(f"bench-site:{self.seed}:{key_pk}")
            original = _lognormal(rng, sizes.median, sizes.sigma, sizes.cap)
            kind = {"application/pdf": "pdf", "image/png": "png"}.get(mime)
            if filename and kind:
                jobs.append(
                    _Job(
                        str(self.media / "originals" / filename),
                        kind,
                        f"{self.seed}:original:{key_pk}",
                        original,
                    )
                )
                owners.append((pk, "original"))
            if archive_filename:
                ratio = rng.lognormvariate(math.log(sizes.archive_ratio), 0.3)
                size = max(4 * KB, min(int(original * ratio), sizes.cap))
                jobs.append(
                    _Job(
                        str(self.media / "archive" / archive_filename),
                        "pdf",
                        f"{self.seed}:archive:{pk}",
                        size,
                    )
                )
                owners.append((pk, "archive"))
            thumb = _lognormal(rng, sizes.thumbnail, 0.35, 200 * KB)
            jobs.append(
                _Job(
                    str(self.media / "thumbnails" / f"{pk:07}.webp"),
                    "webp",
                    f"{self.seed}:thumbnail:{pk}",
                    thumb,
                )
            )
            owners.append((pk, "thumbnail"))
        return jobs, owners


def _lognormal(rng: random.Random, median: int, sigma: float, cap: int) -> int:
    return max(2 * KB, min(int(rng.lognormvariate(math.log(median), sigma)), cap))


def _generate(args: list[str], extra: list[str]) -> Run:
    return run([sys.executable, "-m", "snapexport.demo.generate", *args, *extra])


def _write_all(jobs: list[_Job]) -> dict[str, str]:
    """Write every job's file (keeping its mtime), in parallel; their SHA-256 by path."""
    if not jobs:
        return {}
    workers = max(1, min(os.cpu_count() or 1, 8))
    with ProcessPoolExecutor(workers) as pool:
        digests = pool.map(_write_one, jobs, chunksize=64)
        return {job.path: digest for job, digest in zip(jobs, digests, strict=True)}


_PDF_HEAD = (
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
    b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>\n"
    b"endobj\n4 0 obj\n<< /Filter /DCTDecode /Length LENGTH >>\nstream\n"
)
_PDF_TAIL = b"\nendstream\nendobj\ntrailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n0\n%%EOF\n"
_PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x09\xb0\x00\x00\x0d\xb0\x08\x02\x00"
_PNG_TAIL = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _content(kind: str, key: str, size: int) -> bytes:
    """``size`` bytes that look like ``kind`` and are random (incompressible) inside."""
    if kind == "pdf":
        head, tail = _PDF_HEAD, _PDF_TAIL
        body_len = max(size - len(head) - len(tail) - 12, 0)
        head = head.replace(b"LENGTH", b"%010d" % body_len)
    elif kind == "png":
        head, tail = _PNG_HEAD, _PNG_TAIL
    else:
        head = b"RIFF" + (size - 8).to_bytes(4, "little") + b"WEBPVP8 "
        tail = b""
    body = blake3.blake3(key.encode()).digest(length=max(size - len(head) - len(tail), 0))
    return head + body + tail


def _write_one(job: _Job) -> str:
    data = _content(job.kind, job.key, job.size)
    st = os.stat(job.path)
    with open(job.path, "wb") as f:
        f.write(data)
    os.utime(job.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    return hashlib.sha256(data).hexdigest()
