"""verify's record pairing and its report, without a store: texts in, differences out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from snapexport.errors import RequestError
from snapexport.exportformat.manifest import dumps
from snapexport.materialize.options import ExportOptions
from snapexport.values import SnapshotMeta
from snapexport.verify.records import RecordMatcher
from snapexport.verify.report import MAX_LISTED, Difference, ExportComparison


def report() -> ExportComparison:
    meta = SnapshotMeta("a" * 64, 1, datetime(2026, 1, 1, tzinfo=UTC), "h", "paperless", (), True)
    return ExportComparison(meta, Path("/x"), ExportOptions(zip=True, no_thumbnail=True))


def text(pk: int, **fields: object) -> bytes:
    return dumps({"model": "documents.tag", "pk": pk, "fields": fields}).encode()


def test_same_bytes_are_checked_without_parsing() -> None:
    r = report()
    matcher = RecordMatcher(r, None)
    matcher.pair(text(1, name="a"), text(1, name="a"), "manifest.json")
    matcher.finish()
    assert r.identical and r.records_checked == 1


def test_records_out_of_place_are_paired_and_the_rest_reported() -> None:
    r = report()
    matcher = RecordMatcher(r, None)
    matcher.pair(text(1, name="a"), text(2, name="b"), "manifest.json")
    matcher.pair(text(2, name="b"), text(1, name="a"), "manifest.json")
    matcher.pair(text(3, name="c"), text(4, name="d"), "manifest.json")
    matcher.pair(None, text(5, name="e", color=1), "manifest.json")
    matcher.finish()
    assert r.records_checked == 2
    assert r.differences == [
        Difference("missing", "record", "documents.tag 3", "in manifest.json"),
        Difference("extra", "record", "documents.tag 4", "in manifest.json"),
        Difference("extra", "record", "documents.tag 5", "in manifest.json"),
    ]


def test_a_changed_field_is_named_with_both_values() -> None:
    r = report()
    matcher = RecordMatcher(r, None)
    matcher.pair_lists(
        [{"model": "m.x", "pk": 1, "fields": {"n": "old"}}],
        [{"model": "m.x", "pk": 1, "fields": {"n": "new"}}],
        "a-manifest.json",
    )
    (d,) = r.differences
    assert d.describe() == ('different record m.x 1: n: "old" in the snapshot, "new" in the export')


def test_encrypted_fields_are_compared_decrypted() -> None:
    pytest.importorskip("cryptography")
    from snapexport.exportformat.crypto import FieldCrypto

    crypto = FieldCrypto("pw", iterations=1000)
    plain = dumps({"model": "paperless_mail.mailaccount", "pk": 1, "fields": {"password": "s"}})
    r = report()
    RecordMatcher(r, crypto).pair(
        plain.encode(), crypto.encrypt_text("paperless_mail.mailaccount", plain).encode(), "m"
    )
    assert r.identical and r.records_checked == 1


def test_bad_json_names_where() -> None:
    with pytest.raises(RequestError, match=r"^x-manifest\.json: a record is not valid JSON"):
        RecordMatcher(report(), None).pair(text(1), b"{oops", "x-manifest.json")


def test_report_keeps_a_bounded_list_and_counts_the_rest() -> None:
    r = report()
    for n in range(MAX_LISTED + 5):
        r.add(Difference("extra", "file", f"f{n}"))
    assert len(r.differences) == MAX_LISTED and r.unlisted == 5 and not r.identical
    data = r.as_json()
    assert data["flags"] == ["--zip", "--no-thumbnail"] and data["unlisted"] == 5
    assert data["differences"][0] == {"kind": "extra", "what": "file", "name": "f0", "detail": ""}
