"""The exporter's JSON bytes: manifest framing, ``__exported_*`` keys, split manifests.

Record texts arrive exactly as the exporter writes them (``json.dumps(record,
cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)``). Keys are appended to the text
itself, so the bytes of everything else stay the stored ones; a record is parsed and dumped
again only where the exporter changes a field (bundles' ``file_path``, encrypted fields),
and that round trip is exact because the text holds only JSON primitives.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

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
MANIFEST = "manifest.json"
METADATA = "metadata.json"
SPLIT_SUFFIX = "-manifest.json"
READ_BLOCK = 1 << 20  # bytes read at once from an export's files


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


class ManifestError(ValueError):
    """A manifest that is neither in the exporter's framing nor a JSON list of records."""


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    """One record of a manifest: its JSON text, and where that text starts in the file."""

    text: bytes
    offset: int | None  # None: the manifest was not framed, the text is re-encoded


class ManifestSplitter:
    """Splits ``[`` + records joined by ``,\\n`` + ``\\n]`` into records, fed in pieces.

    Each record is ``json.dumps(..., indent=2)``: it opens with ``{\\n  `` and every line
    inside it is indented, so the first ``\\n}`` after its start closes it. ``bad`` turns
    True on anything else; nothing more is returned then.
    """

    _FIRST = b"[{\n  "
    _EMPTY = b"[\n]"
    _NEXT = b",\n{\n  "
    _LAST = b"\n]"

    def __init__(self) -> None:
        self._buf = b""
        self._base = 0  # file offset of _buf[0]
        self._start = 0  # where the current record starts in _buf
        self._scan = 0  # where parsing resumes in _buf
        self._state = "start"  # start | record | next | end
        self.bad = False

    def feed(self, data: bytes) -> list[ManifestRecord]:
        """The records completed by ``data``, the next piece of the manifest."""
        if self.bad:
            return []
        self._buf += data
        out: list[ManifestRecord] = []
        self._advance(out, final=False)
        cut = self._start if self._state == "record" else self._scan
        if self._state != "start" and cut:
            self._buf = self._buf[cut:]
            self._base += cut
            self._scan -= cut
            self._start -= cut
        return out

    def close(self) -> list[ManifestRecord]:
        """The last records; afterwards ``bad`` says whether the framing was broken."""
        out: list[ManifestRecord] = []
        if not self.bad:
            self._advance(out, final=True)
        self.bad = self.bad or self._state != "end"
        return out

    def _advance(self, out: list[ManifestRecord], *, final: bool) -> None:
        buf = self._buf
        while not self.bad:
            if self._state == "start":
                if buf.startswith(self._EMPTY):
                    self._state, self._scan = "end", len(self._EMPTY)
                elif buf.startswith(self._FIRST):
                    self._state, self._start, self._scan = "record", 1, 1
                elif final or not (self._FIRST.startswith(buf) or self._EMPTY.startswith(buf)):
                    self.bad = True
                else:
                    return
            elif self._state == "record":
                end = buf.find(b"\n}", self._scan)
                if end < 0:
                    self._scan = max(self._start, len(buf) - 1)
                    if final:
                        self.bad = True
                    return
                text = buf[self._start : end + 2]
                out.append(ManifestRecord(text, self._base + self._start))
                self._state, self._scan = "next", end + 2
            elif self._state == "next":
                rest = buf[self._scan : self._scan + len(self._NEXT)]
                if rest.startswith(self._NEXT):
                    self._state, self._start = "record", self._scan + 2
                    self._scan = self._start
                elif rest.startswith(self._LAST):
                    self._state, self._scan = "end", self._scan + len(self._LAST)
                elif final or not (self._NEXT.startswith(rest) or self._LAST.startswith(rest)):
                    self.bad = True
                else:
                    return
            else:  # end: nothing may follow the closing bracket
                self.bad = len(buf) > self._scan
                return


def read_manifest(
    opener: Callable[[], AbstractContextManager[IO[bytes]]], name: str
) -> Iterator[ManifestRecord]:
    """A manifest's records, streamed in file order.

    A manifest in the exporter's framing is read once, in blocks, with each record's
    offset. One that is not (another writer, hand-edited) is then parsed whole and its
    records not yet given are re-encoded as the exporter would write them.
    """
    splitter = ManifestSplitter()
    done = 0
    with opener() as f:
        while block := f.read(READ_BLOCK):
            for record in splitter.feed(block):
                done += 1
                yield record
            if splitter.bad:
                break
        if not splitter.bad:
            for record in splitter.close():
                done += 1
                yield record
    if splitter.bad:
        for record in _parsed_whole(opener, name)[done:]:
            yield ManifestRecord(dumps(record).encode("utf-8"), None)


def _parsed_whole(opener: Callable[[], AbstractContextManager[IO[bytes]]], name: str) -> list[Any]:
    with opener() as f:
        try:
            records = json.load(f)
        except ValueError as err:
            raise ManifestError(f"{name} is not valid JSON ({err})") from err
    if not isinstance(records, list):
        raise ManifestError(f"{name} is not a list of records")
    return records
