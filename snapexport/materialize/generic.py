"""The generic ``django`` profile: a loaddata-ready manifest.json plus the stored files.

``manifest.json`` holds every record in the snapshot's section order (the same framing as
paperless's manifest, which ``loaddata`` reads as a JSON list); every file is written at its
storage-relative path.
"""

from __future__ import annotations

from pathlib import Path

from snapexport.errors import ExportRequestError, MaterializeError
from snapexport.exportformat.manifest import ManifestWriter
from snapexport.exportformat.naming import check_inside
from snapexport.materialize.options import (
    ExportOptions,
    MaterializeResult,
    MissingDocumentFile,
    Reporter,
)
from snapexport.materialize.sinks import Sink, add_file_named
from snapexport.materialize.view import SnapshotView

_PAPERLESS_ONLY = {
    "use_folder_prefix": "--use-folder-prefix",
    "split_manifest": "--split-manifest",
    "use_filename_format": "--use-filename-format",
    "no_archive": "--no-archive",
    "no_thumbnail": "--no-thumbnail",
    "passphrase": "--passphrase",
}


def materialize_django(
    view: SnapshotView,
    target: Path,
    options: ExportOptions,
    sink: Sink,
    sections: list[str],
    reporter: Reporter | None,
) -> MaterializeResult:
    """Write a ``django``-profile snapshot (see module docstring)."""
    for attr, flag in _PAPERLESS_ONLY.items():
        if getattr(options, attr):
            raise ExportRequestError(f"{flag} applies to paperless snapshots only")
    v = view
    records = 0
    try:
        with sink:
            with sink.manifest() as out:
                writer = ManifestWriter(out)
                for model in sections:
                    for rec in v.records(model):
                        writer.write(rec.text)
                        records += 1
                writer.close()
            if not options.data_only:
                for stored in v.files():
                    check_inside(stored.path, f"file {stored.path}")
                    add_file_named(
                        sink,
                        stored.path,
                        stored,
                        lambda s=stored: v.read(s),  # type: ignore[misc]
                        checksum=None,
                        message=lambda err, p=stored.path: f"cannot write {p!r}: {err}",
                    )
                    if reporter is not None:
                        reporter.advance(items=1, nbytes=stored.size)
    except OSError as err:
        raise MaterializeError(f"cannot write the export: {err}") from err
    missing = tuple(
        MissingDocumentFile(m.owner_model or "", m.owner_pk or "", m.role, m.path, m.reason)
        for m in v.missing()
    )
    counts = sink.counts
    path = getattr(sink, "zip_path", target)
    return MaterializeResult(
        path=path,
        records=records,
        documents=0,
        files_written=counts.files_written,
        files_skipped=counts.files_skipped,
        files_deleted=counts.files_deleted,
        bytes_written=counts.bytes_written,
        missing=missing,
        departures=(),
        warnings=(),
    )
