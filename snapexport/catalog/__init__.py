"""The catalog: the SQLite index of a store (schema, connection, queries by table family)."""

from snapexport.catalog.db import Catalog

__all__ = ["Catalog"]
