"""The catalog's own bookkeeping of its images (``store/catalog_image.py`` saves and loads them).

The meta keys ``catalog_image`` (the newest image: generation, state, blob and header ids)
and ``catalog_image_blobs`` (every image blob the catalog still holds rows for), the state
fingerprint that says whether the snapshot tables changed since the last image, and the
SQLite work on an image file: the ``VACUUM INTO`` copy and reading a file's generation.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from snapexport.catalog import meta
from snapexport.catalog.content import existing_blobs
from snapexport.catalog.meta import MetaKey
from snapexport.fsutil import touch_private

# meta keys that describe this writer's session, not the catalog: never copied into an image
_DROP_FROM_IMAGE = (MetaKey.OPEN_WRITER,)


def state(conn: sqlite3.Connection) -> str:
    """A fingerprint of the snapshot tables: changes whenever a snapshot or span changes."""
    h = hashlib.sha256()
    for sql in (
        "SELECT count(*), coalesce(max(seq), 0), coalesce(sum(seq), 0) FROM snapshots",
        "SELECT count(*), coalesce(max(id), 0), count(died), coalesce(sum(died), 0)"
        " FROM record_spans",
        "SELECT count(*), coalesce(max(id), 0), count(died), coalesce(sum(died), 0)"
        " FROM file_spans",
        "SELECT count(*) FROM record_data",
    ):
        h.update(repr(conn.execute(sql).fetchone()).encode())
    return h.hexdigest()[:32]


def current(conn: sqlite3.Connection) -> dict[str, object]:
    """The newest image as the catalog records it ({} before the first)."""
    value = meta.read(conn, MetaKey.CATALOG_IMAGE)
    return json.loads(value) if value else {}


def image_blobs(conn: sqlite3.Connection) -> list[bytes]:
    """Every image blob (and header blob) id the catalog still holds rows for."""
    value = meta.read(conn, MetaKey.CATALOG_IMAGE_BLOBS)
    return [bytes.fromhex(b) for b in json.loads(value)] if value else []


def vacuum_into(conn: sqlite3.Connection, target: Path, extra: Mapping[str, str] = {}) -> None:
    """Write a compact copy of the catalog to ``target`` (an image), without the session's
    own meta keys and with ``extra`` meta keys set."""
    target.unlink(missing_ok=True)
    touch_private(target)  # VACUUM INTO fills an empty file and keeps its mode (0600)
    conn.execute("VACUUM INTO ?", (str(target),))
    img = sqlite3.connect(target, isolation_level=None)
    try:
        img.executemany("DELETE FROM meta WHERE key = ?", [(str(k),) for k in _DROP_FROM_IMAGE])
        img.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(extra.items())
        )
        img.execute("PRAGMA journal_mode = DELETE")
    finally:
        img.close()


def generation_of_file(path: Path) -> int | None:
    """The image generation recorded in the catalog file at ``path`` (None: no usable file)."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(str(current(conn).get("gen", 0)))
        finally:
            conn.close()
    except (sqlite3.Error, ValueError):
        return None


class Images:
    """Image bookkeeping of one open catalog; the setters run in the caller's transaction."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def state(self) -> str:
        return state(self._conn)

    def current(self) -> dict[str, object]:
        return current(self._conn)

    def blob_ids(self) -> list[bytes]:
        return image_blobs(self._conn)

    def live_blobs(self) -> list[bytes]:
        """The newest image and its header: garbage collection keeps them."""
        cur = current(self._conn)
        return [bytes.fromhex(str(cur[k])) for k in ("blob", "header") if k in cur]

    def set_current(self, value: Mapping[str, object]) -> None:
        meta.write(self._conn, MetaKey.CATALOG_IMAGE, json.dumps(dict(value)))

    def set_blob_ids(self, hex_ids: set[str]) -> None:
        meta.write(self._conn, MetaKey.CATALOG_IMAGE_BLOBS, json.dumps(sorted(hex_ids)))

    def forget_collected(self) -> None:
        """Forget image blob ids whose rows a garbage collection removed."""
        keep = existing_blobs(self._conn, image_blobs(self._conn))
        self.set_blob_ids({b.hex() for b in keep})

    def invalidate(self) -> None:
        """Make the next close save a new image (the catalog changed outside the snapshot
        tables' fingerprint, e.g. a repair's marks)."""
        cur = current(self._conn)
        cur["state"] = ""
        self.set_current(cur)

    def forget_lost(self, lost: set[bytes]) -> None:
        """After blobs were lost with their packs: forget lost image blobs, and when the
        newest image is among them, clear its state so that the next close saves one."""
        self.set_blob_ids({b.hex() for b in image_blobs(self._conn) if b not in lost})
        cur = current(self._conn)
        if any(bytes.fromhex(str(cur[k])) in lost for k in ("blob", "header") if k in cur):
            kept = {k: v for k, v in cur.items() if k not in ("blob", "header")}
            kept["state"] = ""
            self.set_current(kept)

    def vacuum_into(self, target: Path, extra: Mapping[str, str] = {}) -> None:
        vacuum_into(self._conn, target, extra)
