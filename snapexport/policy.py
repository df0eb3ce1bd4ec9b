"""Retention policies: which snapshots to keep, and which rule keeps each one.

The rules mean what restic's ``forget`` flags mean:

- ``keep_last=n``: the n newest snapshots.
- ``keep_hourly/daily/weekly/monthly/yearly=n``: for the n most recent hours (days, ISO
  weeks, months, years) that have snapshots, the newest snapshot of each. ``-1`` means
  every such period.
- ``keep_within``: every snapshot taken within that duration before the newest snapshot.
- ``keep_tags``: every snapshot carrying one of these tags.

A snapshot is kept when any rule keeps it. Periods are taken in the given time zone (the
machine's local zone by default, as restic does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from snapexport.errors import RequestError
from snapexport.values import SnapshotMeta

_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?$")


def parse_duration(text: str) -> timedelta:
    """``30d``, ``1y6m``, ``2w``, ``12h``: years count 365 days, months 30 (as restic does)."""
    m = _DURATION.match(text.strip())
    if not text.strip() or m is None or not any(m.groups()):
        raise RequestError(f"invalid duration {text!r}: use e.g. 30d, 2w, 6m, 1y, 12h")
    y, mo, w, d, h = (int(g or 0) for g in m.groups())
    return timedelta(days=365 * y + 30 * mo + 7 * w + d, hours=h)


@dataclass(frozen=True, slots=True)
class Policy:
    """What to keep. All counts default to 0 (rule off)."""

    keep_last: int = 0
    keep_hourly: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0
    keep_within: timedelta | None = None
    keep_tags: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (
            self.keep_last
            or self.keep_hourly
            or self.keep_daily
            or self.keep_weekly
            or self.keep_monthly
            or self.keep_yearly
            or self.keep_within is not None
            or self.keep_tags
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """One snapshot's fate and the rules that kept it (empty when removed)."""

    snapshot: SnapshotMeta
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def keep(self) -> bool:
        return bool(self.reasons)


_PERIODS: list[tuple[str, str, Callable[[datetime], tuple[int, ...]]]] = [
    ("keep_hourly", "hourly", lambda t: (t.year, t.month, t.day, t.hour)),
    ("keep_daily", "daily", lambda t: (t.year, t.month, t.day)),
    ("keep_weekly", "weekly", lambda t: tuple(t.isocalendar()[:2])),
    ("keep_monthly", "monthly", lambda t: (t.year, t.month)),
    ("keep_yearly", "yearly", lambda t: (t.year,)),
]


def apply_policy(
    snapshots: Sequence[SnapshotMeta], policy: Policy, *, tz: tzinfo | None = None
) -> list[Decision]:
    """Decide for every snapshot, newest first."""
    ordered = sorted(snapshots, key=lambda s: (s.time, s.seq), reverse=True)
    reasons: dict[int, list[str]] = {s.seq: [] for s in ordered}
    for s in ordered[: policy.keep_last] if policy.keep_last >= 0 else ordered:
        reasons[s.seq].append("last snapshot")
    for attr, label, bucket in _PERIODS:
        n = getattr(policy, attr)
        if not n:
            continue
        seen: set[tuple[int, ...]] = set()
        for s in ordered:
            key = bucket(s.time.astimezone(tz))
            if key in seen:
                continue
            if n >= 0 and len(seen) >= n:
                break
            seen.add(key)
            reasons[s.seq].append(f"{label} snapshot")
    if policy.keep_within is not None and ordered:
        newest = ordered[0].time
        for s in ordered:
            if newest - s.time <= policy.keep_within:
                reasons[s.seq].append(f"within {_fmt(policy.keep_within)} of newest")
    for tag in policy.keep_tags:
        for s in ordered:
            if tag in s.tags:
                reasons[s.seq].append(f"tag {tag}")
    return [Decision(s, tuple(reasons[s.seq])) for s in ordered]


def _fmt(d: timedelta) -> str:
    hours = d.seconds // 3600
    return f"{d.days}d{hours}h" if hours else f"{d.days}d"
