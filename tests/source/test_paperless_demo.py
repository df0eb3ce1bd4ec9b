"""The paperless profile against the demo site, in this process (real SQLite, real files)."""

from __future__ import annotations

import hashlib
import json
import random
import sys
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from snapexport.exportformat.sections import PAPERLESS_SECTIONS

pytestmark = pytest.mark.usefixtures("demo_site")


def _state(source: Any) -> dict[str, dict[str, tuple[bytes, str, Any]]]:
    with source.open():
        return {
            label: {
                ref.pk: (ref.fingerprint, rec.text, rec.extra) for ref, rec in source.records(label)
            }
            for label in source.info().sections
        }


def test_profile_and_info(demo_source: Any) -> None:
    from snapexport.source.bootstrap import detect_profile

    assert detect_profile() == "paperless"
    assert demo_source.profile == "paperless"
    with demo_source.open():
        info = demo_source.info()
    assert info.site_version == "3.0.5-demo"
    assert info.time_zone == "UTC"
    assert info.migrations["documents"] == "0001_initial"
    assert info.settings["AUDIT_LOG_ENABLED"] is False


def test_the_demo_declares_what_differs_on_its_app_config() -> None:
    """The profile asks the documents app; it never looks for the demo by module name."""
    from django.apps import apps

    from snapexport.demo.site.naming import generate_filename
    from snapexport.source import paperless

    config = apps.get_app_config("documents")
    document = config.get_model("Document")
    assert paperless.DocumentNaming(document).generate is generate_filename
    assert paperless.PaperlessSource().site_version() == config.snapexport_site_version
    assert "snapexport.demo" not in Path(paperless.__file__).read_text(encoding="utf-8")


def test_sections_follow_the_exporters_order(demo_source: Any) -> None:
    with demo_source.open():
        sections = demo_source.info().sections
    spec_order = [s.label for s in PAPERLESS_SECTIONS]
    assert list(sections) == [label for label in spec_order if label in sections]
    # The demo has exactly these; optional apps (mail, guardian, allauth) are skipped.
    assert sections == (
        "documents.correspondent",
        "documents.tag",
        "documents.documenttype",
        "documents.storagepath",
        "documents.savedview",
        "documents.savedviewfilterrule",
        "auth.group",
        "auth.user",
        "documents.uisettings",
        "contenttypes.contenttype",
        "auth.permission",
        "documents.customfield",
        "documents.customfieldinstance",
        "documents.note",
        "documents.document",
        "documents.sharelink",
        "documents.sharelinkbundle",
    )


def test_querysets_like_the_exporter(demo_source: Any) -> None:
    from snapexport.demo.site import models as m

    with demo_source.open():
        users = [json.loads(r.pk) for r in demo_source.rows("auth.user")]
        docs = [json.loads(r.pk) for r in demo_source.rows("documents.document")]
        notes = {json.loads(r.pk) for r in demo_source.rows("documents.note")}
        tags = [json.loads(r.pk) for r in demo_source.rows("documents.tag")]
    from django.contrib.auth.models import User

    names = dict(User.objects.values_list("pk", "username"))
    assert {names[pk] for pk in users} == {"admin", "alice", "bob"}
    assert docs == sorted(docs)  # documents by id
    assert set(docs) == set(m.Document.global_objects.values_list("pk", flat=True))
    assert m.Document.global_objects.filter(deleted_at__isnull=False).exists()
    assert notes == set(m.Note.global_objects.values_list("pk", flat=True))
    tag_names = dict(m.Tag.objects.values_list("pk", "name"))
    ordered = [tag_names[pk].encode() for pk in tags]
    assert ordered == sorted(ordered)  # binary collation: 'Important ★' after 'Home'


def test_ui_settings_of_excluded_users_are_left_out(demo_source: Any, rollback: None) -> None:
    # The exporter: UiSettings.objects.exclude(user__username__in=["consumer", "AnonymousUser"])
    from django.contrib.auth.models import User

    from snapexport.demo.site import models as m

    kept = {json.dumps(pk) for pk in m.UiSettings.objects.values_list("pk", flat=True)}
    for name in ("consumer", "AnonymousUser"):
        m.UiSettings.objects.create(user=User.objects.get(username=name), settings={"x": 1})
    with demo_source.open():
        refs = {r.pk for r in demo_source.rows("documents.uisettings")}
        records = {ref.pk for ref, _ in demo_source.records("documents.uisettings")}
    assert refs == records == kept


def test_rows_come_in_sort_key_order_and_match_the_queryset(demo_source: Any) -> None:
    with demo_source.open():
        for label, reader in demo_source.readers.items():
            refs = list(reader.rows())
            assert [r.sort_key for r in refs] == sorted(r.sort_key for r in refs), label
            assert len({r.sort_key for r in refs}) == len(refs), label
            expected = [json.dumps(pk) for pk in reader.queryset().values_list("pk", flat=True)]
            assert sorted(r.pk for r in refs) == sorted(expected), label
            if label in ("documents.document", "documents.tag", "documents.customfield"):
                assert [r.pk for r in refs] == expected, label


def test_serialized_text_is_the_serializers_output(demo_source: Any) -> None:
    from django.core import serializers

    from snapexport.source.serialize import record_text

    with demo_source.open():
        for label, reader in demo_source.readers.items():
            # What document_exporter does: serialize its queryset, no prefetching.
            expected = {
                json.dumps(record["pk"]): record_text(record)
                for record in serializers.serialize("python", reader.queryset())
            }
            refs = list(reader.rows())
            # Ask for them in a shuffled order and in small batches.
            pks = [r.pk for r in refs]
            random.Random(1).shuffle(pks)
            reader.batch_size = 7
            got = {rec.pk: rec.text for rec in reader.serialize(pks)}
            reader.batch_size = 500
            assert got == expected, label


def test_serialized_batches_leave_no_reference_cycles(demo_source: Any) -> None:
    """Django's M2M prefetch puts each document in a reference cycle with its tags'
    queryset; serialize breaks it, so a batch is freed by reference count, not left for the
    cyclic collector (which a snapshot runs rarely: heap.quiet_collector)."""
    import gc

    with demo_source.open():
        reader = demo_source.readers["documents.document"]
        pks = [r.pk for r in reader.rows()]
        assert len(pks) > 50
        gc.collect()
        gc.disable()
        try:
            texts = [rec.text for rec in reader.serialize(pks)]
            unreachable = gc.collect()
        finally:
            gc.enable()
    assert len(texts) == len(pks)
    assert unreachable < 50, unreachable  # thousands while the prefetch caches stayed


def test_document_records_shape(demo_source: Any) -> None:
    with demo_source.open():
        ref = next(iter(demo_source.rows("documents.document")))
        (rec,) = demo_source.serialize("documents.document", [ref.pk])
    record = json.loads(rec.text)
    assert list(record) == ["model", "pk", "fields"]
    fields = list(record["fields"])
    assert fields[:4] == ["deleted_at", "restored_at", "transaction_id", "owner"]
    assert "content_length" not in fields  # serialize=False
    assert fields[-1] == "tags"


def test_format_name_is_the_sites_generate_filename(demo_source: Any) -> None:
    from snapexport.demo.site import models as m
    from snapexport.demo.site.naming import generate_filename

    with demo_source.open():
        pks = [r.pk for r in demo_source.rows("documents.document")]
        extras = {rec.pk: rec.extra for rec in demo_source.serialize("documents.document", pks)}
    for doc in m.Document.global_objects.all():
        assert extras[json.dumps(doc.pk)] == {"format_name": generate_filename(doc)}
    # Version documents take their root's name with _v<index>.
    version = m.Document.global_objects.filter(root_document__isnull=False).first()
    assert version is not None
    assert "_v1" in extras[json.dumps(version.pk)]["format_name"]


def test_files_of_documents_and_bundles(demo_source: Any, demo_site: Path) -> None:
    from snapexport.demo.site import models as m

    with demo_source.open():
        files = list(demo_source.files())
    paths = [f.path for f in files]
    assert len(paths) == len(set(paths))
    media = demo_site / "media"
    by_owner: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for f in files:
        assert f.abs_path == media / f.path
        assert f.abs_path.is_file(), f.path
        by_owner.setdefault((f.owner_model, f.owner_pk), {})[f.role] = f
        if f.checksum is not None:
            assert f.checksum_algo == "sha256"
            assert hashlib.sha256(f.abs_path.read_bytes()).hexdigest() == f.checksum
    for doc in m.Document.global_objects.all():
        roles = by_owner[("documents.document", json.dumps(doc.pk))]
        assert roles["original"].path == f"documents/originals/{doc.filename}"
        assert roles["original"].checksum == doc.checksum
        assert roles["thumbnail"].path == f"documents/thumbnails/{doc.pk:07}.webp"
        if doc.archive_filename:
            assert roles["archive"].path == f"documents/archive/{doc.archive_filename}"
            assert roles["archive"].checksum == doc.archive_checksum
        else:
            assert "archive" not in roles
    bundle = by_owner[("documents.sharelinkbundle", "1")]["bundle"]
    assert bundle.path == "documents/share_link_bundles/bundles/bundle-0001.zip"
    # Two documents share one content (equal checksums are allowed).
    checksums = [f.checksum for f in files if f.role == "original"]
    assert len(checksums) > len(set(checksums))


def test_media_lock_is_held_while_open(demo_source: Any, demo_site: Path) -> None:
    import fcntl
    import os

    lock = demo_site / "media" / "media.lock"
    with demo_source.open():
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _mutate(rng: random.Random) -> None:
    """Every kind of change the fast path must notice (or must be allowed to ignore)."""
    from django.contrib.auth.models import User

    from snapexport.demo.site import models as m

    docs = list(m.Document.global_objects.order_by("pk"))
    pick = rng.sample(docs, 12)
    pick[0].title += " edited"
    pick[1].content = "new content"
    pick[2].created = pick[2].created - timedelta(days=400)
    pick[3].archive_serial_number = 99_999
    pick[4].deleted_at = datetime(2025, 1, 1, tzinfo=UTC)
    pick[5].modified = pick[5].modified + timedelta(microseconds=1)  # invisible in text
    for doc in pick[:6]:
        doc.save()
    trashed = m.Document.global_objects.filter(deleted_at__isnull=False).exclude(pk=pick[4].pk)
    trashed.filter(pk=trashed.first().pk).update(deleted_at=None, restored_at=datetime.now(UTC))
    pick[6].tags.set(m.Tag.objects.all()[:3])
    # A tag rename reorders every list it sits in; a correspondent rename renames files.
    tag = m.Tag.objects.get(name="Car")
    tag.name = "Zebra"
    tag.save()
    corr = m.Correspondent.objects.get(name="City Hall")
    corr.name = "Town Hall"
    corr.save()
    m.StoragePath.objects.filter(pk=2).update(path="{{ document_type }}/{{ title }}")
    m.DocumentType.objects.filter(pk=1).update(name="Rechnung")
    User.objects.filter(username="alice").update(username="alicia")
    m.Tag.objects.filter(name="Bills").update(tn_parent=None)
    # Custom field instances: every value column.
    for instance in m.CustomFieldInstance.global_objects.order_by("pk")[:40]:
        kind = instance.field.data_type
        if kind == "monetary":
            instance.value_monetary_amount = Decimal("1.50")
            instance.value_monetary = "EUR1.50"
        elif kind == "string":
            instance.value_text = "changed"
        elif kind == "date":
            instance.value_date = date(2030, 1, 1)
        elif kind == "boolean":
            instance.value_bool = not instance.value_bool
        elif kind == "integer":
            instance.value_int = (instance.value_int or 0) + 1
        elif kind == "float":
            instance.value_float = (instance.value_float or 0.0) + 1e-12
        elif kind == "url":
            instance.value_url = "https://example.org/other"
        elif kind == "documentlink":
            instance.value_document_ids = list(reversed(instance.value_document_ids or []))
        elif kind == "select":
            instance.value_select = "opt-mid" if instance.value_select != "opt-mid" else "opt-low"
        else:
            instance.value_long_text = (instance.value_long_text or "") + "!"
        instance.save()
    # Notes: edit, trash, delete; a document deleted outright.
    notes = list(m.Note.global_objects.order_by("pk"))
    notes[0].note += " amended"
    notes[0].save()
    m.Note.global_objects.filter(pk=notes[1].pk).update(deleted_at=datetime.now(UTC))
    m.Note.global_objects.filter(pk=notes[2].pk).delete()
    pick[7].delete()
    # JSON key order shows in the text.
    ui = m.UiSettings.objects.get()
    ui.settings = dict(reversed(list((ui.settings or {}).items())))
    ui.save()
    # Trashing a bundled document hides it from the bundle's list (default manager).
    m.Document.global_objects.filter(pk=2).update(deleted_at=datetime.now(UTC))
    # Groups and permissions.
    from django.contrib.auth.models import Group

    group = Group.objects.get(name="readers")
    group.permissions.remove(group.permissions.first())


def test_fast_path_unchanged_fingerprint_means_unchanged_record(
    demo_source: Any, rollback: None
) -> None:
    before = _state(demo_source)
    _mutate(random.Random(5))
    after = _state(demo_source)
    changed_texts = 0
    changed_fps = 0
    for label, rows in after.items():
        for pk, (fp, text, extra) in rows.items():
            if pk not in before[label]:
                continue
            old_fp, old_text, old_extra = before[label][pk]
            if fp == old_fp:
                assert text == old_text, (label, pk)
                assert extra == old_extra, (label, pk)
            else:
                changed_fps += 1
            changed_texts += text != old_text
    assert changed_texts > 30
    assert changed_fps >= changed_texts
    # The specific cases: bundle list loses the trashed document; renamed correspondent
    # changes a format_name with no change to the document's own row.
    bundle_before = json.loads(before["documents.sharelinkbundle"]["1"][1])
    bundle_after = json.loads(after["documents.sharelinkbundle"]["1"][1])
    assert 2 in bundle_before["fields"]["documents"]
    assert 2 not in bundle_after["fields"]["documents"]
    renamed = [
        pk
        for pk, (_fp, text, extra) in after["documents.document"].items()
        if pk in before["documents.document"]
        and text == before["documents.document"][pk][1]
        and extra != before["documents.document"][pk][2]
    ]
    assert renamed  # naming inputs outside the row changed the extra only


def test_fast_path_salt_follows_filename_format(demo_source: Any) -> None:
    from django.test import override_settings

    with demo_source.open():
        before = {r.pk: r.fingerprint for r in demo_source.rows("documents.document")}
    template = "{{ created_year }}/{{ title }}"
    with override_settings(FILENAME_FORMAT=template), demo_source.open():
        after = {r.pk: r.fingerprint for r in demo_source.rows("documents.document")}
        rec = next(iter(demo_source.serialize("documents.document", ["5"])))
    assert not set(before.values()) & set(after.values())
    assert rec.extra is not None and "/" in rec.extra["format_name"]


def test_rows_stream_in_bounded_memory(demo_source: Any, rollback: None) -> None:
    from snapexport.demo.site import models as m

    start = datetime(2030, 1, 1, tzinfo=UTC)
    m.Note.global_objects.bulk_create(
        (
            m.Note(note=f"bulk {i}", created=start + timedelta(seconds=i), document_id=1)
            for i in range(20_000)
        ),
        batch_size=2000,
    )
    reader = demo_source.reader("documents.note")
    with demo_source.open():
        tracemalloc.start()
        count = 0
        for _ref in reader.rows():
            count += 1
        _current, streaming_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        one = next(iter(reader.rows()))
    assert count >= 20_000
    # Streaming holds one chunk (500 rows). Holding every RowRef would take at least
    # count * (RowRef + its three bytes/str objects) -- several times this bound.
    footprint = sum(sys.getsizeof(x) for x in (one, one.pk, one.fingerprint, one.sort_key))
    assert count * footprint > 3 * 1_500_000
    assert streaming_peak < 1_500_000, streaming_peak


def test_records_pairs_rows_with_their_records(demo_source: Any) -> None:
    with demo_source.open():
        pairs = list(demo_source.records("documents.tag"))
    assert [ref.pk for ref, _rec in pairs] == [rec.pk for _ref, rec in pairs]
    assert all(json.loads(rec.text)["model"] == "documents.tag" for _ref, rec in pairs)
