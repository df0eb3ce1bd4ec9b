"""Shared demo sites and stores for the diff, verify and prune tests (built once per run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dp_site import DiffStore, copy_site, edit_site, generate, ok, snapshot


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-document demo site; copy it before changing it."""
    site = tmp_path_factory.mktemp("dp-template") / "site"
    generate("create", site, "--documents", "40", "--seed", "7")
    return site


# Every kind of change the diff names, each on its own document.
CHANGES = """
doc = m.Document.objects.get(pk=2)
out["title_before"] = doc.title
doc.title = "Invoice 3 (paid)"
doc.save()

doc = m.Document.objects.get(pk=4)
current = list(doc.tags.order_by("name"))
extra = m.Tag.objects.exclude(pk__in=[t.pk for t in current]).order_by("name").first()
doc.tags.set([extra] + current[1:])
out["tags_added"] = [extra.name]
out["tags_removed"] = [t.name for t in current[:1]]

doc = m.Document.objects.get(pk=5)
other = m.Correspondent.objects.exclude(pk=doc.correspondent_id).order_by("name").first()
out["correspondent"] = other.name
doc.correspondent = other
doc.save()

busy = [2, 4, 5, 8, 10, 12, 13, 14, 16]
cfi = (
    m.CustomFieldInstance.objects.filter(document__deleted_at__isnull=True)
    .exclude(document_id__in=busy)
    .order_by("document_id")
    .first()
)
cfi.value_text = "changed"
cfi.value_int = 4242
cfi.save()
out["cfi"] = cfi.pk
out["cfi_doc"] = cfi.document_id

note = m.Note.objects.create(note="a new note", created=NOW, document_id=8)
out["note"] = note.pk

m.Document.objects.filter(pk=10).update(deleted_at=NOW, transaction_id=uuid.uuid4())
trashed = m.Document.global_objects.filter(deleted_at__isnull=False).exclude(pk=10).first()
m.Document.global_objects.filter(pk=trashed.pk).update(
    deleted_at=None, restored_at=NOW, transaction_id=None
)
out["restored"] = trashed.pk

doc = m.Document.objects.get(pk=12)
path = ORIGINALS / doc.filename
path.write_bytes(path.read_bytes() + b"%% changed\\n")
doc.checksum = sha(path)
doc.save()

archived = m.Document.objects.filter(archive_filename__isnull=False, pk__gt=12)
doc = archived.exclude(pk__in=[14, 16, cfi.document_id]).order_by("pk").first()
path = ARCHIVE / doc.archive_filename
path.write_bytes(path.read_bytes() + b"%% archive changed\\n")
doc.archive_checksum = sha(path)
doc.save()
out["archive_doc"] = doc.pk

doc = m.Document.objects.get(pk=14)
for p in (ORIGINALS / doc.filename, THUMBS / "0000014.webp"):
    p.unlink()
if doc.archive_filename:
    (ARCHIVE / doc.archive_filename).unlink()
doc.delete()

new = m.Document.objects.get(pk=16)
tags = list(new.tags.all())
new.pk = None
new.id = None
new.filename = "brand-new.pdf"
new.archive_filename = None
new.archive_checksum = None
new.archive_serial_number = None
new.title = "Brand new"
(ORIGINALS / "brand-new.pdf").write_bytes(b"%PDF-1.4 brand new document\\n")
new.checksum = sha(ORIGINALS / "brand-new.pdf")
new.save()
new.tags.set(tags)
(THUMBS / f"{new.pk:07}.webp").write_bytes((THUMBS / "0000016.webp").read_bytes())
out["added"] = new.pk
"""


@pytest.fixture(scope="session")
def diff_store(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> DiffStore:
    """Snapshots A (tag t), B (tag t; every kind of change) and C (untagged, no change)."""
    root = tmp_path_factory.mktemp("dp-diff")
    site = copy_site(demo_template, root / "site")
    store = root / "store"
    ok("init", "--store", store)
    a = snapshot(store, site, "--tag", "t")
    facts = edit_site(site, CHANGES)
    b = snapshot(store, site, "--tag", "t")
    c = snapshot(store, site)
    return DiffStore(store, site, a, b, c, facts)
