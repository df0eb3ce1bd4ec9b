"""Does an export on disk (folder or zip) still match the snapshot it was made from?

``compare_export`` detects the export's flags, then runs materialize's own exporter
(``write_export``) into a sink that writes nothing: each file the export should hold is
compared, as it is announced, with the export's file of that name (size, then content), and
each manifest record with the export's record in the same place (by ``(model, pk)``, parsed).
Afterwards every name in the export that was not announced is reported as extra.

Cost and memory:

- file contents are checked by hashing the export's file with the store's id function
  (``store.ids``, keyed when the store is) and comparing with the blob id: each export file
  is read once, the store's packs are not read at all. A store without such a function
  falls back to streaming the blob and comparing SHA-256 (reads both sides);
- records are compared by bytes first (materialize writes the stored texts), parsed only
  when the bytes differ; the export's manifest is streamed record by record. Records out
  of place wait in a dictionary, so memory grows with the differences, not the export;
- expected names wait in a temporary SQLite file (``DiskSet``) for the extra-file check.

Modules: ``compare`` (the entry point, flag detection for the plan), ``sink`` (the
comparing sink), ``records`` (pairing manifest records), ``report`` (the result). The
format itself (containers, manifest reader, flags) is ``exportformat``'s; the text shown
to a user is the CLI's.
"""

from snapexport.verify.compare import compare_export, detect_flags
from snapexport.verify.report import Difference, ExportComparison

__all__ = ["Difference", "ExportComparison", "compare_export", "detect_flags"]
