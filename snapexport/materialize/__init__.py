"""Writing a snapshot back out as an export: naming, manifest encoding, sinks, field crypto."""

from snapexport.materialize.exporter import materialize
from snapexport.materialize.options import (
    ExportOptions,
    MaterializeResult,
    MissingDocumentFile,
    ZipCompression,
)

__all__ = [
    "ExportOptions",
    "MaterializeResult",
    "MissingDocumentFile",
    "ZipCompression",
    "materialize",
]
