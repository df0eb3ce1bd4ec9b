"""Writing a snapshot back out as an export: the run, its options, the folder and zip sinks.

The format it writes (names, manifest bytes, field crypto) is ``snapexport.exportformat``.
"""

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
