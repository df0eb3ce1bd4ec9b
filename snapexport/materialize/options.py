"""The exporter's flags as one value, and what a materialize run reports back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

ZipCompression = Literal["auto", "deflated", "stored"]


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """Every ``document_exporter`` flag that changes the output (names as in its help).

    ``zip_compression`` is snapexport's own: ``deflated`` (the default) is what the
    exporter does; ``auto`` stores already-compressed types (pdf, webp, png, jpeg, zip)
    and deflates the rest; ``stored`` compresses nothing. Entries' bytes are the same
    either way.
    """

    zip: bool = False
    zip_name: str | None = None  # default: export-<local date of the snapshot>
    use_folder_prefix: bool = False
    split_manifest: bool = False
    use_filename_format: bool = False
    no_archive: bool = False
    no_thumbnail: bool = False
    data_only: bool = False
    passphrase: str | None = None
    delete: bool = False
    compare_checksums: bool = False
    compare_json: bool = False
    zip_compression: ZipCompression = "deflated"


@dataclass(frozen=True, slots=True)
class MissingDocumentFile:
    """A file the export should hold but the snapshot does not have."""

    owner_model: str
    owner_pk: str
    role: str  # 'original' | 'archive' | 'thumbnail' | 'bundle'
    name: str  # the name it would have had in the export
    reason: str


@dataclass(frozen=True, slots=True)
class MaterializeResult:
    """What one run wrote."""

    path: Path  # the target folder, or the zip file
    records: int
    documents: int
    files_written: int
    files_skipped: int  # unchanged files left in place (directory re-runs)
    files_deleted: int  # --delete
    bytes_written: int
    missing: tuple[MissingDocumentFile, ...]
    departures: tuple[str, ...]  # documents named differently from the exporter, and why
    warnings: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing


class Reporter(Protocol):
    """The part of ``snapexport.progress.Reporter`` materialize uses."""

    def phase(self, name: str, total: int | None = None) -> None: ...

    def advance(self, items: int = 0, nbytes: int = 0) -> None: ...
