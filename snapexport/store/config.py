"""The store's ``config`` file: format version, store id and the parameters fixed at init.

Chunker parameters, the id function and the compression level are read from here on every
open, so every writer of a store cuts and names content the same way (which is what makes
dedup across runs work).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from snapexport.errors import StoreError
from snapexport.faults import checkpoint
from snapexport.store.chunker import ChunkerParams
from snapexport.store.layout import CONFIG_FILE

if TYPE_CHECKING:
    from snapexport.store.backend import Backend

FORMAT_NAME = "snapexport-store"
# 2: pack entry kinds, encryption, catalog images; 3: catalog journal; 4: pack format 3
FORMAT_VERSION = 4
PACKS_V3_FROM = 4  # the store format from which new packs are written in pack format 3
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
    encryption: str | None = None  # "aes-256-gcm" when the store is encrypted
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
            "encryption": self.encryption,
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
            encryption=raw.get("encryption"),
            version=version,
        )

    @property
    def pack_format(self) -> int:
        """The pack format this store's new packs get (docs/format.md, "Store format 4")."""
        return 3 if self.version >= PACKS_V3_FROM else 2

    def ready_for_new_packs(self, backend: Backend) -> StoreConfig:
        """This config, rewritten as format 4 first if it is format 3, so that an older
        snapexport refuses the store ("upgrade snapexport") instead of finding packs it
        cannot read. A format-2 store keeps format-2 packs until its catalog journal
        upgrade (``journal.py``) has made it format 3. The caller holds the writer's lock."""
        if self.version != PACKS_V3_FROM - 1:
            return self
        upgraded = dataclasses.replace(self, version=PACKS_V3_FROM)
        upgraded.write(backend)
        checkpoint("store:after-format-4")
        return upgraded

    def write(self, backend: Backend) -> None:
        data = json.dumps(self.to_json(), indent=2).encode() + b"\n"
        backend.save_bytes(CONFIG_FILE, data)

    @classmethod
    def read(cls, backend: Backend, where: str) -> StoreConfig:
        try:
            raw = backend.load(CONFIG_FILE)
        except FileNotFoundError:
            raise StoreError(
                f"no snapexport store at {where} (create one with: snapexport init --store {where})"
            ) from None
        try:
            return cls.from_json(json.loads(raw))
        except StoreError:
            raise
        except (ValueError, KeyError, TypeError) as err:
            raise StoreError(f"store config at {where} is damaged: {err}") from err
