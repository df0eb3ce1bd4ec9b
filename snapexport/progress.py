"""Progress reporting: a small interface, a live line on a TTY, silence under cron.

Library code reports to a ``Reporter``; it never prints. The CLI picks ``TTYReporter`` when
stderr is a terminal and ``NullReporter`` otherwise (cron, systemd, ``docker exec -T``).
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Reporter(Protocol):
    """Receives progress from long-running library calls."""

    def phase(self, name: str, total: int | None = None) -> None:
        """A new phase starts (``total`` items or bytes, when known)."""
        ...

    def advance(self, items: int = 0, nbytes: int = 0) -> None:
        """Work done within the current phase."""
        ...

    def done(self) -> None:
        """The whole operation finished; clear any live display."""
        ...


class NullReporter:
    """Reports nothing: for unattended runs and tests."""

    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, items: int = 0, nbytes: int = 0) -> None:
        pass

    def done(self) -> None:
        pass


class TTYReporter:
    """One live status line on a terminal: phase, items, bytes, rate and ETA."""

    def __init__(self, stream: TextIO = sys.stderr, interval: float = 0.2) -> None:
        self._stream = stream
        self._interval = interval
        self._name = ""
        self._total: int | None = None
        self._items = 0
        self._bytes = 0
        self._start = time.monotonic()
        self._last = 0.0

    def phase(self, name: str, total: int | None = None) -> None:
        self._name, self._total = name, total
        self._items = self._bytes = 0
        self._start = time.monotonic()
        self._render(force=True)

    def advance(self, items: int = 0, nbytes: int = 0) -> None:
        self._items += items
        self._bytes += nbytes
        self._render()

    def done(self) -> None:
        self._stream.write("\r\x1b[K")
        self._stream.flush()

    def _render(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._interval:
            return
        self._last = now
        elapsed = max(now - self._start, 1e-6)
        rate = self._bytes / elapsed / 1e6
        line = f"{self._name}: {self._items}"
        if self._total:
            line += f"/{self._total}"
            if self._items:
                eta = (self._total - self._items) * elapsed / self._items
                line += f"  ETA {eta:.0f}s"
        if self._bytes:
            line += f"  {self._bytes / 1e6:.1f} MB  {rate:.1f} MB/s"
        self._stream.write("\r\x1b[K" + line)
        self._stream.flush()


def reporter_for(stream: TextIO = sys.stderr, *, quiet: bool = False) -> Reporter:
    """A live reporter on a terminal, silence anywhere else."""
    if not quiet and stream.isatty():
        return TTYReporter(stream)
    return NullReporter()
