"""Naming inputs fetched by key range: the same inputs as one document at a time, and a
version document's fingerprint follows everything of its root that names it."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("demo_site")

DOCUMENT = "documents.document"


def _naming(source: Any) -> Any:
    return source.reader(DOCUMENT).extras


def _fingerprints(source: Any) -> dict[str, bytes]:
    with source.open():
        return {r.pk: r.fingerprint for r in source.rows(DOCUMENT)}


def test_inputs_of_a_chunk_equal_inputs_one_document_at_a_time(demo_source: Any) -> None:
    from snapexport.demo.site import models as m

    naming = _naming(demo_source)
    with demo_source.open():
        pks = list(m.Document.global_objects.order_by("pk").values_list("pk", flat=True))
        everything = naming.inputs(pks)  # one key range, roots inside it
        dense = naming.inputs(pks[:60])  # a key range
        sparse = naming.inputs([pks[0], pks[-1]])  # an IN list
        versions = [pk for pk, v in everything.items() if v[1] is not None]
        for pk in [*pks[:60], pks[-1], *versions]:
            alone = naming.inputs([pk])[pk]  # a version's root outside the chunk
            assert everything[pk] == alone, pk
            if pk in dense:
                assert dense[pk] == alone, pk
            if pk in sparse:
                assert sparse[pk] == alone, pk
    assert versions, "the demo has version documents"
    # A document's tags are among its inputs.
    tagged = m.Document.global_objects.filter(tags__isnull=False).values_list("pk", flat=True)[0]
    with demo_source.open():
        assert any(
            isinstance(e, tuple) and e[0] == "tag" for e in naming.inputs([tagged])[tagged][0]
        )


@pytest.mark.parametrize("batch_size", [500, 7])  # the root in the chunk, or not
def test_a_version_documents_fingerprint_follows_its_root(batch_size: int, rollback: None) -> None:
    from snapexport.demo.site import models as m
    from snapexport.source import connect_site

    demo_source = connect_site("snapexport.demo.settings", batch_size=batch_size)

    version = m.Document.global_objects.filter(root_document__isnull=False).order_by("pk")[0]
    root_pk = version.root_document_id
    key = str(version.pk)
    seen = [_fingerprints(demo_source)[key]]

    def changed() -> None:
        fingerprint = _fingerprints(demo_source)[key]
        assert fingerprint not in seen
        seen.append(fingerprint)

    m.Document.global_objects.filter(pk=root_pk).update(title="A new root title")
    changed()
    root = m.Document.global_objects.get(pk=root_pk)
    tag = m.Tag.objects.exclude(pk__in=root.tags.values("pk")).order_by("pk")[0]
    root.tags.add(tag)
    changed()
    tag.name = "renamed tag"
    tag.save()
    changed()
    used = m.CustomFieldInstance.global_objects.filter(document=root).values("field_id")
    field = m.CustomField.objects.exclude(pk__in=used).order_by("pk")[0]
    instance = m.CustomFieldInstance.global_objects.create(document=root, field=field)
    changed()
    m.CustomFieldInstance.global_objects.filter(pk=instance.pk).update(value_text="x")
    changed()
    # A change to another document leaves it alone.
    other = m.Document.global_objects.exclude(pk__in=[root_pk, version.pk]).order_by("pk")[0]
    m.Document.global_objects.filter(pk=other.pk).update(title="unrelated")
    assert _fingerprints(demo_source)[key] == seen[-1]
