"""Which packs a ``check`` reads: all, a slice N/M, a random P%, or those snapshots need.

``N/M`` puts each pack in slice ``(first 64 bits of its id) mod M``, plus one: the same pack
is always in the same slice, so M runs (1/M ... M/M, one a night) read every pack exactly
once, and a pack added later falls into a fixed slice. ``P%`` picks that share of the packs
at random (at least one).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass

from snapexport.errors import RequestError

_SLICE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True, slots=True)
class PackSubset:
    """A ``--read-data-subset`` value: ``n``/``m`` or ``percent``."""

    text: str
    n: int = 0
    m: int = 0
    percent: float | None = None

    @classmethod
    def parse(cls, text: str) -> PackSubset:
        slice_ = _SLICE.match(text)
        if slice_:
            n, m = int(slice_.group(1)), int(slice_.group(2))
            if m < 1 or not 1 <= n <= m:
                raise RequestError(
                    f"--read-data-subset {text!r}: N/M needs 1 <= N <= M"
                    " (for example 1/4, then 2/4, 3/4, 4/4 on later runs)"
                )
            return cls(text.strip(), n=n, m=m)
        pct = _PERCENT.match(text)
        if pct:
            percent = float(pct.group(1))
            if not 0 < percent <= 100:
                raise RequestError(f"--read-data-subset {text!r}: the percentage must be"
                                 " above 0 and at most 100 (for example 10%)")  # fmt: skip
            return cls(text.strip(), percent=percent)
        raise RequestError(f"--read-data-subset {text!r} is neither N/M (for example 1/4) nor"
                         " a percentage (for example 10%)")  # fmt: skip

    def in_slice(self, pack_id: str) -> bool:
        """Whether ``pack_id`` is in slice ``n`` of ``m`` (N/M subsets only)."""
        return int(pack_id[:16], 16) % self.m == self.n - 1

    def choose(self, pack_ids: Iterable[str]) -> set[str]:
        """The packs this subset reads out of ``pack_ids``."""
        ids = sorted(pack_ids)
        if self.percent is None:
            return {p for p in ids if self.in_slice(p)}
        if not ids:
            return set()
        count = max(1, math.ceil(len(ids) * self.percent / 100))
        return set(random.SystemRandom().sample(ids, min(count, len(ids))))
