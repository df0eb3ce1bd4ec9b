"""Rows arrive in the order of the exporter's own query, ties included (SQLite, in-process).

An ordering by a descending indexed column is served by a backward index scan: equal
values come out in descending rowid order (as the exporter's ``-timestamp`` audit log
does). ``rows()`` must give that order, and its sort keys must agree with it, so that no
explicit order has to be stored.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest


@pytest.mark.usefixtures("rollback")
def test_ties_of_a_descending_index_scan_come_newest_first(demo_source: Any) -> None:
    from django.db import connection

    from snapexport.demo.site.models import Note
    from snapexport.source.django_rows import SectionReader

    def queryset() -> Any:
        return Note.objects.order_by("-created")  # like the audit log's -timestamp

    moment = Note.objects.order_by("created").values_list("created", flat=True)[3]
    document = Note.objects.values_list("document_id", flat=True).first()
    for text in ("same moment 1", "same moment 2", "same moment 3"):
        Note.objects.create(note=text, created=moment, document_id=document)
    reader = SectionReader("documents.note", queryset, batch_size=7)
    with demo_source.open():
        with connection.cursor() as cursor:
            sql, params = queryset().query.sql_with_params()
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        refs = list(reader.rows())
        exporter = [note.pk for note in queryset().iterator()]
        created = dict(Note.objects.values_list("pk", "created"))
    assert "USING INDEX" in plan, plan
    pks = [int(ref.pk) for ref in refs]
    assert pks == exporter
    tied = [(a, b) for a, b in itertools.pairwise(pks) if created[a] == created[b]]
    assert len(tied) >= 3
    assert all(a > b for a, b in tied)  # newest first within a tie
    keys = [ref.sort_key for ref in refs]
    assert keys == sorted(keys)  # the key agrees: no explicit order needed
