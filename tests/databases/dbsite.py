"""What a database test gets: a vendor, a fresh database's URL, a folder of its own."""

from __future__ import annotations

from pathlib import Path


class Database:
    """One fresh database of a vendor (``url`` None: SQLite in the site folder)."""

    def __init__(self, vendor: str, url: str | None, folder: Path) -> None:
        self.vendor = vendor
        self.url = url
        self.folder = folder

    def site_args(self) -> list[str]:
        """The demo generator's and ``snapexport demo``'s arguments for this database."""
        return [] if self.url is None else ["--database", self.url]
