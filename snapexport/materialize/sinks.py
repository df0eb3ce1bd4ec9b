"""Where an export goes: the interface shared by the directory and zip sinks.

The exporter declares contents through three verbs (a streamed file, a small JSON file, the
manifest stream); a sink decides how to persist them. Arcnames are relative POSIX paths
already checked to stay inside the target. A sink is a context manager: a clean exit
finalizes (rename, ``--delete``), an exception (KeyboardInterrupt included) aborts.

A sink that streams file bytes may also offer ``will_read(arcname) -> bool``: whether
``add_file`` will surely read that file. The exporter then opens those files' streams a few
documents ahead, so the store loads them while earlier files are written. Without it (a
sink that only looks at names, such as verify's) nothing is read ahead. A sink that reads
the streams on threads of its own says ``loads_itself = True``: its streams load each
chunk on the thread that reads it (from a local store), with no hand-off per chunk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from snapexport.errors import MaterializeError, SnapexportError
from snapexport.values import StoredFile

Chunks = Callable[[], Iterator[bytes]]
# Turns a failure to write one file into the error the user sees (naming the document): a
# sink that writes on another thread raises it later, from a call about another file.
Describe = Callable[[BaseException], BaseException]


@dataclass(slots=True)
class SinkCounts:
    """What a sink did, for the run's result."""

    files_written: int = 0
    files_skipped: int = 0
    files_deleted: int = 0
    bytes_written: int = 0


class Sink(Protocol):
    counts: SinkCounts

    def __enter__(self) -> Sink: ...

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None: ...

    def add_file(
        self,
        arcname: str,
        stored: StoredFile,
        chunks: Chunks,
        *,
        checksum: str | None,
        describe: Describe | None = None,
    ) -> None:
        """Write one file's bytes (``chunks()`` streams them) with its mtime and mode.

        A sink may write later, on a thread of its own; then a failure surfaces from a
        later call (``describe`` names this file in it), at the latest when the manifest
        or the sink closes."""
        ...

    def add_json(self, arcname: str, data: bytes) -> None:
        """Write a small JSON file (split manifests, metadata.json)."""
        ...

    def manifest(self) -> contextlib.AbstractContextManager[BinaryIO]:
        """A binary stream for manifest.json, committed when the context closes."""
        ...


class FileWriteError(MaterializeError):
    """One file that could not be written; its message names that file."""


def add_file_named(
    sink: Sink,
    arcname: str,
    stored: StoredFile,
    chunks: Chunks,
    *,
    checksum: str | None,
    message: Callable[[BaseException], str],
) -> None:
    """``sink.add_file``, with every failure a ``FileWriteError`` naming its own file:
    this file's, or an earlier one's surfacing here from a sink that writes behind (that
    one is already named, by the ``message`` given with it)."""

    def describe(err: BaseException) -> BaseException:
        return FileWriteError(message(err))

    try:
        sink.add_file(arcname, stored, chunks, checksum=checksum, describe=describe)
    except FileWriteError:
        raise
    except (SnapexportError, OSError) as err:
        raise describe(err) from err
