"""``compare_export``: the export on disk against the snapshot, through materialize's own
exporter and a comparing sink."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from snapexport.diskset import DiskSet
from snapexport.errors import RequestError
from snapexport.exportformat.containers import (
    Container,
    ContainerError,
    open_container,
    read_metadata,
)
from snapexport.exportformat.crypto import export_crypto
from snapexport.exportformat.flags import detect_layout, sample_documents
from snapexport.exportformat.manifest import ManifestError
from snapexport.materialize.exporter import write_export
from snapexport.materialize.options import ExportOptions, MaterializeResult
from snapexport.materialize.view import SnapshotView
from snapexport.verify.records import RecordMatcher
from snapexport.verify.report import Difference, ExportComparison
from snapexport.verify.sink import CompareSink


def compare_export(
    store: Any,
    spec: str,
    path: Path,
    *,
    passphrase: str | None = None,
    tag: str | None = None,
) -> ExportComparison:
    """Compare the export at ``path`` with snapshot ``spec`` (id, prefix, latest, latest~N).

    Raises RequestError when ``path`` is not an export, when the export is encrypted and no
    (or a wrong) passphrase is given, or when the snapshot does not exist.
    """
    from snapexport.snapshots import open_view

    view = open_view(store, spec, tag=tag)
    path = Path(path)
    with _opened(path) as container:
        try:
            metadata = read_metadata(container)
        except ContainerError as err:
            raise RequestError(f"{path}: {err}") from err
        crypto = export_crypto(metadata, passphrase, path)
        flags = detect_flags(view, container, crypto is not None)
        report = ExportComparison(view.meta, path, flags)
        names = DiskSet()  # every name the export should hold (on disk: flat memory)
        try:
            matcher = RecordMatcher(report, crypto)
            sink = CompareSink(store, view, container, report, matcher, names, metadata)
            plan = replace(flags, passphrase=None)  # compare plain values: decrypt the export
            result = write_export(view, sink, plan, target=path)
            matcher.finish()
            _extras(container, names, report, result)
        finally:
            names.close()
    return report


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Container]:
    try:
        with open_container(path) as container:
            yield container
    except ContainerError as err:
        raise RequestError(str(err)) from err


def detect_flags(view: SnapshotView, container: Container, encrypted: bool) -> ExportOptions:
    """The exporter flags the export in ``container`` was written with, as options to
    plan the same export from the snapshot (``exportformat.flags`` reads them)."""
    if view.meta.profile == "django":
        first = next(iter(view.files()), None)
        data_only = first is not None and not container.members(first.path)
        return ExportOptions(zip=container.is_zip, data_only=data_only)
    splits = container.split_manifests()
    try:
        docs, correspondents = sample_documents(container, splits)
    except ManifestError as err:
        raise RequestError(str(err)) from err
    layout = detect_layout(
        container, docs, correspondents, split_manifests=splits, encrypted=encrypted
    )
    return ExportOptions(
        zip=layout.zip,
        use_folder_prefix=layout.use_folder_prefix,
        split_manifest=layout.split_manifest,
        use_filename_format=layout.use_filename_format,
        no_archive=layout.no_archive,
        no_thumbnail=layout.no_thumbnail,
        data_only=layout.data_only,
        passphrase="(given)" if layout.passphrase else None,
    )


def _extras(
    container: Container, names: DiskSet, report: ExportComparison, result: MaterializeResult
) -> None:
    """Every file in the export that the snapshot's export would not hold."""
    lacking = {m.name: m.reason for m in result.missing}
    for batch in _batches(container.names(), 500):
        for name in (n for n in batch if n not in names):
            if name in lacking:
                report.add(
                    Difference("extra", "file", name, f"the snapshot lacks it: {lacking[name]}")
                )
            else:
                report.add(Difference("extra", "file", name))
    if lacking:
        report.notes.append(
            f"the snapshot is incomplete: {len(lacking)} file(s) could not be compared"
        )


def _batches(items: Iterator[str], n: int) -> Iterator[list[str]]:
    while batch := list(itertools.islice(items, n)):
        yield batch
