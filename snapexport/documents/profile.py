"""What a profile says about documents: which models hold them, their parts and field names.

Everything the document commands (ls, find, history, restore, dump) know about paperless-ngx
comes from here; the index, the queries and the commands are generic over a
:class:`DocumentProfile`. The generic django profile has no notion of a document and answers
"not supported" (a :class:`RequestError` naming the next step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from snapexport.errors import RequestError
from snapexport.values import SnapshotMeta

# The paperless export format's labels (the exporter's "model" values).
DOCUMENT = "documents.document"
CORRESPONDENT = "documents.correspondent"
TAG = "documents.tag"
DOCUMENT_TYPE = "documents.documenttype"
STORAGE_PATH = "documents.storagepath"
NOTE = "documents.note"
CUSTOM_FIELD = "documents.customfield"
CUSTOM_FIELD_INSTANCE = "documents.customfieldinstance"
USER = "auth.user"


@dataclass(frozen=True, slots=True)
class Reference:
    """A foreign key (or M2M list) to a record that has a natural key (its name)."""

    field: str
    model: str
    name_field: str


@dataclass(frozen=True, slots=True)
class DocumentProfile:
    """Where a profile keeps documents, the fields ls/find/history read, and their parts."""

    name: str
    document: str
    title: str
    created: str
    content: str
    checksum: str
    archive_checksum: str
    archive_filename: str
    original_filename: str
    asn: str
    mime_type: str
    deleted_at: str
    correspondent: Reference
    document_type: Reference
    tags: Reference
    # Fields of the document (and of its parts) naming other records.
    references: tuple[Reference, ...]
    # model -> field pointing at the document: records restored with their document.
    parts: dict[str, str] = field(default_factory=dict)
    part_references: dict[str, tuple[Reference, ...]] = field(default_factory=dict)

    @property
    def named_models(self) -> dict[str, str]:
        """Models whose names the index keeps, with the field that names them."""
        out = {r.model: r.name_field for r in self.references}
        for refs in self.part_references.values():
            out.update({r.model: r.name_field for r in refs})
        return out

    @property
    def indexed_models(self) -> tuple[str, ...]:
        return (self.document, *self.named_models, *self.parts)


_CORRESPONDENT = Reference("correspondent", CORRESPONDENT, "name")
_TYPE = Reference("document_type", DOCUMENT_TYPE, "name")
_TAGS = Reference("tags", TAG, "name")

PAPERLESS = DocumentProfile(
    name="paperless",
    document=DOCUMENT,
    title="title",
    created="created",
    content="content",
    checksum="checksum",
    archive_checksum="archive_checksum",
    archive_filename="archive_filename",
    original_filename="original_filename",
    asn="archive_serial_number",
    mime_type="mime_type",
    deleted_at="deleted_at",
    correspondent=_CORRESPONDENT,
    document_type=_TYPE,
    tags=_TAGS,
    references=(
        _CORRESPONDENT,
        _TYPE,
        _TAGS,
        Reference("storage_path", STORAGE_PATH, "name"),
        Reference("owner", USER, "username"),
    ),
    parts={NOTE: "document", CUSTOM_FIELD_INSTANCE: "document"},
    part_references={
        NOTE: (Reference("user", USER, "username"),),
        CUSTOM_FIELD_INSTANCE: (Reference("field", CUSTOM_FIELD, "name"),),
    },
)


def document_profile(meta: SnapshotMeta) -> DocumentProfile:
    """The document profile of a snapshot's profile, or a RequestError for profiles without."""
    if meta.profile == "paperless":
        return PAPERLESS
    raise RequestError(
        f"snapshot {meta.short_id} was taken with the {meta.profile!r} profile, which has no"
        " documents: ls, find, history, restore and dump are not supported for it; use"
        " materialize to write the whole snapshot"
    )


def store_profile(profiles: set[str]) -> DocumentProfile:
    """The document profile for a store whose snapshots carry these profiles."""
    if "paperless" in profiles:
        return PAPERLESS
    names = ", ".join(sorted(profiles)) or "none"
    raise RequestError(
        f"the store's snapshots have no documents (profile: {names}): ls, find, history,"
        " restore and dump are not supported for it; use materialize to write a snapshot"
    )
