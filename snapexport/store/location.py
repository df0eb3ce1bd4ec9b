"""Where a store lives: a local folder or ``s3://bucket/prefix``, and its local cache folder.

A store in a local folder keeps its catalog inside the folder unless it is encrypted. Any
other store (S3, or an encrypted folder) keeps its catalog in the user's cache folder, keyed
by the store id, and publishes encrypted copies of it into the store (docs/format.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from snapexport.errors import StoreError

S3_SCHEME = "s3://"
CACHE_ENV = "SNAPEXPORT_CACHE_DIR"


@dataclass(frozen=True, slots=True)
class StoreLocation:
    """A parsed ``--store`` value: ``path`` for folders, ``bucket``/``prefix`` for S3."""

    text: str
    path: Path | None = None
    bucket: str = ""
    prefix: str = ""

    @property
    def is_s3(self) -> bool:
        return self.path is None

    @classmethod
    def parse(cls, location: str | Path) -> StoreLocation:
        text = str(location)
        if not text.startswith(S3_SCHEME):
            return cls(text, path=Path(location))
        rest = text[len(S3_SCHEME) :]
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise StoreError(f"store location {text!r} names no bucket (s3://BUCKET/PREFIX)")
        prefix = prefix.strip("/")
        if ".." in prefix.split("/"):
            raise StoreError(f"store location {text!r} has '..' in its prefix")
        return cls(text, bucket=bucket, prefix=prefix)

    def __str__(self) -> str:
        return self.text


def cache_root() -> Path:
    """The user cache folder for snapexport (``SNAPEXPORT_CACHE_DIR`` overrides it)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "snapexport"


def cache_dir(store_id: str) -> Path:
    """The cache folder of one store: its local catalog and temp files."""
    return cache_root() / store_id
