"""What ``compare_export`` found: the differences between an export and its snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapexport.materialize.options import ExportOptions
from snapexport.values import SnapshotMeta

MAX_LISTED = 1000  # differences kept for the report; the rest are only counted


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the export differs from the snapshot."""

    kind: str  # 'missing' | 'extra' | 'different'
    what: str  # 'file' | 'record'
    name: str  # the file's name in the export, or 'model pk'
    detail: str = ""

    def describe(self) -> str:
        text = f"{self.kind} {self.what} {self.name}"
        return f"{text}: {self.detail}" if self.detail else text


@dataclass(slots=True)
class ExportComparison:
    """The outcome of ``compare_export``."""

    snapshot: SnapshotMeta
    path: Path
    flags: ExportOptions
    differences: list[Difference] = field(default_factory=list)
    unlisted: int = 0  # differences beyond MAX_LISTED, only counted
    files_checked: int = 0
    bytes_hashed: int = 0
    records_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences and not self.unlisted

    def add(self, diff: Difference) -> None:
        if len(self.differences) < MAX_LISTED:
            self.differences.append(diff)
        else:
            self.unlisted += 1

    def flag_words(self) -> list[str]:
        return _flag_words(self.flags)

    def as_json(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot.id,
            "path": str(self.path),
            "identical": self.identical,
            "flags": self.flag_words(),
            "files_checked": self.files_checked,
            "bytes_hashed": self.bytes_hashed,
            "records_checked": self.records_checked,
            "differences": [
                {"kind": d.kind, "what": d.what, "name": d.name, "detail": d.detail}
                for d in self.differences
            ],
            "unlisted": self.unlisted,
            "notes": list(self.notes),
        }


def _flag_words(o: ExportOptions) -> list[str]:
    pairs = [
        (o.zip, "--zip"),
        (o.use_folder_prefix, "--use-folder-prefix"),
        (o.split_manifest, "--split-manifest"),
        (o.use_filename_format, "--use-filename-format"),
        (o.no_archive, "--no-archive"),
        (o.no_thumbnail, "--no-thumbnail"),
        (o.data_only, "--data-only"),
        (bool(o.passphrase), "--passphrase"),
    ]
    return [word for on, word in pairs if on]
