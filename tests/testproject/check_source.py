"""Runs the generic profile against the test project in its own process; prints JSON.

Usage (from ``tests/``): ``python -m testproject.check_source FOLDER``. Django is set up
once per process, so the tests call this in a subprocess and assert on its report.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any


def split_dumpdata(text: str) -> list[str]:
    """Per-record texts of ``dumpdata --indent 2`` output (records end with '}' at col 0)."""
    body = text.removeprefix("[\n").removesuffix("\n]\n").removesuffix("\n]")
    if not body.strip():
        return []
    parts = body.split("\n},\n{")
    return [
        ("" if i == 0 else "{") + part + ("" if i == len(parts) - 1 else "\n}")
        for i, part in enumerate(parts)
    ]


def populate(folder: Path) -> None:
    import uuid

    from django.conf import settings
    from django.contrib.auth.models import Group, Permission, User
    from django.core.files.base import ContentFile

    from testproject.shelf.models import Attachment, Author, Book, Genre

    admin = User.objects.create(
        username="admin", password="x", date_joined=datetime(2024, 1, 1, tzinfo=UTC)
    )
    group = Group.objects.create(name="editors")
    group.permissions.set(Permission.objects.filter(codename__startswith="change")[:3])
    admin.groups.add(group)
    genres = [
        Genre.objects.create(slug=s, name=n)
        for s, n in [
            ("sf", "Science fiction"),
            ("crime", "Crime"),
            ("poetry", "Poetry"),
            ("zz", "Ärger"),
        ]
    ]
    authors = [
        Author.objects.create(name="Zoë", born=date(1970, 5, 1), rating=Decimal("4.50")),
        Author.objects.create(name="Anna", born=None, rating=None),
        Author.objects.create(name="Ben", born=date(1980, 1, 2), rating=Decimal("4.50")),
    ]
    for i in range(12):
        book = Book.objects.create(
            uid=uuid.UUID(int=i + 1),
            title=f"Book {i % 5} – ✓",
            author=authors[i % 3],
            published=datetime(2020, 1, 1, 12, 0, 0, 123456, tzinfo=UTC) + timedelta(days=i)
            if i % 4
            else None,
            pages=i * 10,
            weight=0.1 * i if i % 3 else None,
            reading_time=timedelta(hours=i, microseconds=5),
            meta={"z": 1, "a": [i, "x"], "nested": {"k": None}},
            secret="hidden",
        )
        book.genres.set(genres[: i % 4])
        att = Attachment(book=book, note=f"note {i}")
        att.file.save(f"book{i}.txt", ContentFile(f"attachment {i}\n".encode()), save=False)
        if i % 2:
            att.scan.save(f"scan{i}.bin", ContentFile(bytes([i]) * 10), save=False)
        att.save()
    # A file two rows share, and a folder of extras.
    first = Attachment.objects.order_by("pk").first()
    assert first is not None
    Attachment.objects.create(book=first.book, file=first.file.name, note="shared file")
    extras = Path(settings.MEDIA_ROOT) / "extras"
    (extras / "cache").mkdir(parents=True, exist_ok=True)
    (extras / "keep.txt").write_text("keep\n")
    (extras / "skip.tmp").write_text("skip\n")
    (extras / "cache" / "x.txt").write_text("cached\n")


def records_of(source: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    with source.open():
        for label in source.info().sections:
            out[label] = [record.text for _ref, record in source.records(label)]
    return out


def dumpdata(labels: list[str], **options: Any) -> dict[str, list[str]]:
    from django.core.management import call_command

    out = {}
    for label in labels:
        buffer = io.StringIO()
        call_command("dumpdata", label, indent=2, stdout=buffer, **options)
        out[label] = split_dumpdata(buffer.getvalue())
    return out


def fingerprints(source: Any, label: str) -> dict[str, tuple[bytes, str]]:
    with source.open():
        return {ref.pk: (ref.fingerprint, record.text) for ref, record in source.records(label)}


def main(folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    import os

    os.environ["TESTPROJECT_DIR"] = str(folder)
    from snapexport.source import connect_site

    tests_dir = Path(__file__).resolve().parent.parent
    source = connect_site("testproject.settings", pythonpath=[tests_dir])
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    populate(folder)
    report: dict[str, Any] = {"profile": source.profile, "sections": list(source.info().sections)}

    mismatches = []
    variants = [
        {"natural_foreign": True, "natural_primary": False, "include_contenttypes": False},
        {"natural_foreign": False, "natural_primary": False, "include_contenttypes": True},
        {"natural_foreign": True, "natural_primary": True, "include_contenttypes": True},
    ]
    for variant in variants:
        src = type(source)(**variant)
        ours = records_of(src)
        theirs = dumpdata(
            list(ours),
            use_natural_foreign_keys=variant["natural_foreign"],
            use_natural_primary_keys=variant["natural_primary"],
        )
        for label in ours:
            if ours[label] != theirs[label]:
                mismatches.append({"variant": variant, "label": label})
        report.setdefault("variant_sections", []).append(list(ours))
    report["mismatches"] = mismatches
    report["record_counts"] = {k: len(v) for k, v in records_of(source).items()}

    # Ordering: Book's Meta.ordering expands through author's (-rating, name) ordering.
    from snapexport.source.django_rows import SectionReader
    from testproject.shelf.models import Attachment, Author, Book, Genre

    reader = SectionReader("shelf.book", lambda: Book.objects.all(), batch_size=5)
    refs = list(reader.rows())
    report["order_db"] = [json.loads(r.pk) for r in refs]
    report["order_sortkey"] = [json.loads(r.pk) for r in sorted(refs, key=lambda r: r.sort_key)]
    report["order_django"] = list(Book.objects.values_list("pk", flat=True))

    # Files.
    src = type(source)(
        extra_folders=[Path(os.environ["TESTPROJECT_DIR"]) / "media" / "extras"],
        folder_excludes=["*.tmp", "cache"],
    )
    with src.open():
        report["files"] = [
            [f.path, str(f.abs_path), f.role, f.owner_model, f.owner_pk] for f in src.files()
        ]

    # Fast path with natural keys: renaming an author changes Book records (natural FK)
    # and renaming a genre reorders Book genre lists.
    before = fingerprints(source, "shelf.book")
    Author.objects.filter(name="Ben").update(name="Bernd")
    Genre.objects.filter(slug="crime").update(name="Zzz crime")
    Attachment.objects.filter(pk=1).update(note="changed")
    after = fingerprints(source, "shelf.book")
    violations = []
    changed = 0
    for pk, (fp, text) in after.items():
        old_fp, old_text = before[pk]
        if fp == old_fp and text != old_text:
            violations.append(pk)
        changed += text != old_text
    report["fastpath_violations"] = violations
    report["fastpath_changed"] = changed
    return report


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]).resolve()), default=str))
