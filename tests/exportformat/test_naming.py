"""Export names: the exporter's rules and snapexport's two departures."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapexport.exportformat.manifest import append_keys, split_manifest
from snapexport.exportformat.naming import DocumentFacts, Namer, bundle_names, file_type


def facts(pk: int, title: str, mime: str = "application/pdf", **kw: object) -> DocumentFacts:
    values: dict[str, object] = {
        "pk": pk,
        "created": "2024-05-01",
        "correspondent": None,
        "title": title,
        "mime_type": mime,
        "has_archive": True,
        "format_name": None,
        "file_type": file_type(mime),
    }
    values.update(kw)
    return DocumentFacts(**values)  # type: ignore[arg-type]


def namer(**flags: bool) -> Namer:
    defaults = {
        "use_filename_format": False,
        "use_folder_prefix": False,
        "no_thumbnail": False,
        "no_archive": False,
        "split_manifest": False,
    }
    defaults.update(flags)
    return Namer(**defaults)


def test_public_name_sanitized_and_counted() -> None:
    n = namer()
    first = n.assign(facts(1, 'A: "b"/c', correspondent="X"))
    assert first.original == "2024-05-01 X A- -b--c.pdf"
    assert first.thumbnail == "2024-05-01 X A- -b--c-thumbnail.webp"
    assert (
        n.assign(facts(2, 'A: "b"/c', correspondent="X")).original == "2024-05-01 X A- -b--c_01.pdf"
    )


def test_stem_collision_advances_the_counter() -> None:
    n = namer()
    assert n.assign(facts(1, "Same")).archive == "2024-05-01 Same-archive.pdf"
    second = n.assign(facts(2, "Same", "text/plain"))
    assert second.original == "2024-05-01 Same_01.txt"
    assert second.archive == "2024-05-01 Same_01-archive.pdf"
    assert second.departure is not None


def test_no_departure_when_no_derived_name_is_shared() -> None:
    n = namer(no_thumbnail=True, no_archive=True)
    n.assign(facts(1, "Same"))
    second = n.assign(facts(2, "Same", "text/plain"))
    assert second.original == "2024-05-01 Same.txt" and second.departure is None


def test_unknown_extension_uses_path_stem_like_the_exporter() -> None:
    names = namer().assign(facts(1, "Dr. Who", mime="application/x-nothing-known"))
    assert names.original == "2024-05-01 Dr. Who"
    assert names.thumbnail == "2024-05-01 Dr-thumbnail.webp"


@pytest.mark.parametrize("flags", [{}, {"no_thumbnail": True, "no_archive": True}])
def test_long_names_keep_extension_and_suffixes_within_255_bytes(flags: dict[str, bool]) -> None:
    n = namer(**flags)
    title = "Ü" * 200  # 400 bytes
    first = n.assign(facts(1, title))
    second = n.assign(facts(2, title))
    for names in (first, second):
        assert names.original.endswith(".pdf")
        for name in (names.original, names.thumbnail, names.archive):
            if name:
                assert len(name.encode()) <= 255
        assert names.departure and "255 bytes" in names.departure
    assert second.original.endswith("_01.pdf") and first.original != second.original


def test_name_that_fits_but_whose_thumbnail_would_not() -> None:
    title = "x" * (250 - len("2024-05-01 "))  # original: 254 bytes
    assert namer(no_thumbnail=True, no_archive=True).assign(facts(1, title)).departure is None
    shortened = namer().assign(facts(1, title))
    assert len(shortened.thumbnail.encode()) <= 255 and shortened.departure  # type: ignore[union-attr]


def test_filename_format_counter_and_folders() -> None:
    n = namer(use_filename_format=True, use_folder_prefix=True, split_manifest=True)
    doc = facts(1, "t", format_name="Corr/2024/Inv.pdf")
    first = n.assign(doc)
    assert first.original == "originals/Corr/2024/Inv.pdf"
    assert first.thumbnail == "thumbnails/Corr/2024/Inv-thumbnail.webp"
    assert first.split_manifest == "json/Corr/2024/Inv-manifest.json"
    assert n.assign(facts(2, "t", format_name="Corr/2024/Inv.pdf")).original == (
        "originals/Corr/2024/Inv_01.pdf"
    )


def test_bundle_names() -> None:
    assert bundle_names("bundles/b.zip") == ("bundles/b.zip", "share_link_bundles/bundles/b.zip")
    assert bundle_names("/media/x/b.zip") == ("b.zip", "share_link_bundles/b.zip")


def test_record_text_framing() -> None:
    text = '{\n  "model": "m",\n  "pk": 1,\n  "fields": {}\n}'
    assert append_keys(text, [("__exported_file_name__", "ä.pdf")]) == (
        '{\n  "model": "m",\n  "pk": 1,\n  "fields": {},\n  "__exported_file_name__": "ä.pdf"\n}'
    )
    assert (
        split_manifest([text])
        == '[\n  {\n    "model": "m",\n    "pk": 1,\n    "fields": {}\n  }\n]'
    )


def test_public_and_format_names_are_recognised_with_their_counters() -> None:
    from snapexport.exportformat.naming import is_format_name, is_public_name

    doc = facts(7, "Inv: 1", format_name="Tax/2024/inv.pdf")
    assert is_public_name("2024-05-01 Inv- 1.pdf", doc)
    assert is_public_name("2024-05-01 Inv- 1_03.pdf", doc)
    assert not is_public_name("2024-05-01 Inv- 1_3.pdf", doc)  # the counter has 2 digits
    assert not is_public_name("Tax/2024/inv.pdf", doc)
    assert is_format_name("Tax/2024/inv.pdf", doc)
    assert is_format_name("Tax/2024/inv_01.pdf", doc)
    assert not is_format_name("2024-05-01 Inv- 1.pdf", doc)
    assert not is_format_name("x.pdf", facts(8, "x"))  # no format name at all


def test_media_names() -> None:
    from snapexport.exportformat.naming import original_media_name, thumbnail_media_name

    assert original_media_name(12, "a/b.pdf", "application/pdf") == "a/b.pdf"
    assert original_media_name(12, None, "image/png") == "0000012.png"
    assert original_media_name(12, "", "application/x-unknown-thing") == "0000012"
    assert thumbnail_media_name(12) == "0000012.webp"


@settings(max_examples=300, deadline=None)
@given(
    title=st.text(max_size=300),
    correspondent=st.none() | st.text(max_size=40),
    counter=st.integers(min_value=0, max_value=150),
    mime=st.sampled_from(["application/pdf", "image/png", "text/plain", "application/x-nope"]),
)
def test_the_recogniser_knows_every_name_the_namer_gives(
    title: str, correspondent: str | None, counter: int, mime: str
) -> None:
    from snapexport.exportformat.naming import is_public_name, public_name

    doc = facts(1, title, mime, correspondent=correspondent)
    name, _ = public_name(doc, counter)
    assert is_public_name(name, doc)
