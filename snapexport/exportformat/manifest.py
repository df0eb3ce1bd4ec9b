"""The exporter's JSON bytes: manifest framing, ``__exported_*`` keys, split manifests.

Record texts arrive exactly as the exporter writes them (``json.dumps(record,
cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)``). Keys are appended to the text
itself, so the bytes of everything else stay the stored ones; a record is parsed and dumped
again only where the exporter changes a field (bundles' ``file_path``, encrypted fields),
and that round trip is exact because the text holds only JSON primitives.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

EXPORTED_FILE_NAME = "__exported_file_name__"
EXPORTED_THUMBNAIL_NAME = "__exported_thumbnail_name__"
EXPORTED_ARCHIVE_NAME = "__exported_archive_name__"
EXPORTED_BUNDLE_NAME = "__exported_share_link_bundle_name__"
EXPORTED_KEYS = (
    EXPORTED_FILE_NAME,
    EXPORTED_THUMBNAIL_NAME,
    EXPORTED_ARCHIVE_NAME,
    EXPORTED_BUNDLE_NAME,
)


def dumps(content: Any) -> str:
    """``json.dumps(..., indent=2, ensure_ascii=False)``: split manifests and metadata.json."""
    return json.dumps(content, indent=2, ensure_ascii=False)


def append_keys(text: str, keys: list[tuple[str, str]]) -> str:
    """The record text with top-level keys added after its last key."""
    if not keys:
        return text
    if not text.endswith("\n}"):
        raise ValueError("record text is not an indented JSON object")
    tail = "".join(f",\n  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in keys)
    return text[:-2] + tail + "\n}"


def split_manifest(texts: list[str]) -> str:
    """A split manifest: the records as one indented list (their texts indented once more)."""
    if not texts:
        return "[]"
    return "[\n" + ",\n".join("  " + t.replace("\n", "\n  ") for t in texts) + "\n]"


class ManifestWriter:
    """Writes ``manifest.json``'s framing: ``[`` + records joined by ``,\\n`` + ``\\n]``."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._first = True
        self.records = 0
        self._out.write(b"[")

    def write(self, text: str) -> None:
        if not self._first:
            self._out.write(b",\n")
        self._first = False
        self._out.write(text.encode("utf-8"))
        self.records += 1

    def close(self) -> None:
        self._out.write(b"\n]")
