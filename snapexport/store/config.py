"""The store's ``config`` file: format version, store id and the parameters fixed at init.

Chunker parameters, the id function and the compression level are read from here on every
open, so every writer of a store cuts and names content the same way (which is what makes
dedup across runs work).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapexport.errors import StoreError
from snapexport.fsutil import atomic_write_bytes
from snapexport.store.chunker import ChunkerParams

CONFIG_FILE = "config"
FORMAT_NAME = "snapexport-store"
FORMAT_VERSION = 1
DEFAULT_PACK_SIZE = 32 << 20


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """The decoded ``config`` file."""

    store_id: str
    chunker: ChunkerParams = field(default_factory=ChunkerParams)
    compression_level: int = 3
    pack_size: int = DEFAULT_PACK_SIZE
    id_algorithm: str = "blake3"
    keyed: bool = False
    version: int = FORMAT_VERSION

    @classmethod
    def new(cls, **kwargs: Any) -> StoreConfig:
        return cls(store_id=os.urandom(16).hex(), **kwargs)

    def to_json(self) -> dict[str, Any]:
        c = self.chunker
        return {
            "format": FORMAT_NAME,
            "version": self.version,
            "id": self.store_id,
            "ids": {"algorithm": self.id_algorithm, "keyed": self.keyed},
            "chunker": {
                "algorithm": c.algorithm,
                "min_size": c.min_size,
                "avg_size": c.avg_size,
                "max_size": c.max_size,
                "normalization": c.normalization,
                "seed": c.seed,
            },
            "compression": {"codec": "zstd", "level": self.compression_level},
            "pack_size": self.pack_size,
        }

    @classmethod
    def from_json(cls, raw: Any) -> StoreConfig:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
            raise ValueError("not a snapexport store config")
        version = int(raw["version"])
        if version > FORMAT_VERSION:
            raise StoreError(
                f"store format version {version} is newer than this snapexport supports "
                f"({FORMAT_VERSION}): upgrade snapexport"
            )
        ch = raw["chunker"]
        ids = raw["ids"]
        if ids["algorithm"] != "blake3":
            raise ValueError(f"unknown id algorithm {ids['algorithm']!r}")
        return cls(
            store_id=str(raw["id"]),
            chunker=ChunkerParams(
                min_size=int(ch["min_size"]),
                avg_size=int(ch["avg_size"]),
                max_size=int(ch["max_size"]),
                algorithm=str(ch["algorithm"]),
                normalization=int(ch["normalization"]),
                seed=int(ch["seed"]),
            ),
            compression_level=int(raw["compression"]["level"]),
            pack_size=int(raw["pack_size"]),
            id_algorithm=str(ids["algorithm"]),
            keyed=bool(ids["keyed"]),
            version=version,
        )

    def write(self, root: Path) -> None:
        data = json.dumps(self.to_json(), indent=2).encode() + b"\n"
        atomic_write_bytes(root / CONFIG_FILE, data)

    @classmethod
    def read(cls, root: Path) -> StoreConfig:
        path = root / CONFIG_FILE
        if not root.is_dir():
            raise StoreError(
                f"no store at {root} (create one with: snapexport init --store {root})"
            )
        if not path.is_file():
            raise StoreError(f"{root} is not a snapexport store (it has no config file)")
        try:
            return cls.from_json(json.loads(path.read_bytes()))
        except StoreError:
            raise
        except (ValueError, KeyError, TypeError) as err:
            raise StoreError(f"store config {path} is damaged: {err}") from err
