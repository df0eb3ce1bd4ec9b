"""Retention rules on a synthetic calendar: hourly snapshots over two years."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from snapexport.errors import RequestError
from snapexport.policy import Policy, apply_policy, parse_duration
from snapexport.values import SnapshotMeta

START = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
HOURS = 2 * 365 * 24


def _calendar(hours: int = HOURS, tags_every: int = 0) -> list[SnapshotMeta]:
    out = []
    for i in range(hours):
        tags = ("monthly-audit",) if tags_every and i % tags_every == 0 else ()
        out.append(
            SnapshotMeta(
                id=f"{i:064x}",
                seq=i + 1,
                time=START + timedelta(hours=i),
                host="h",
                profile="django",
                tags=tags,
                complete=True,
            )
        )
    return out


CAL = _calendar()
NEWEST = CAL[-1].time


def _kept(policy: Policy, cal: list[SnapshotMeta] = CAL) -> list[SnapshotMeta]:
    return [d.snapshot for d in apply_policy(cal, policy, tz=UTC) if d.keep]


def test_keep_last_keeps_the_newest_n() -> None:
    kept = _kept(Policy(keep_last=5))
    assert [s.seq for s in kept] == [HOURS, HOURS - 1, HOURS - 2, HOURS - 3, HOURS - 4]


def test_keep_hourly_one_per_hour() -> None:
    # One snapshot an hour: the 10 newest hours are the 10 newest snapshots.
    assert [s.seq for s in _kept(Policy(keep_hourly=10))] == list(range(HOURS, HOURS - 10, -1))


def test_keep_daily_newest_of_each_day() -> None:
    kept = _kept(Policy(keep_daily=7))
    assert len(kept) == 7
    assert len({s.time.date() for s in kept}) == 7
    for s in kept:  # the newest of its day: 23:30, except the newest day's last snapshot
        same_day = [c for c in CAL if c.time.date() == s.time.date()]
        assert s == max(same_day, key=lambda c: c.time)


def test_keep_weekly_uses_iso_weeks() -> None:
    kept = _kept(Policy(keep_weekly=4))
    weeks = [s.time.isocalendar()[:2] for s in kept]
    assert len(set(weeks)) == 4 == len(kept)
    for s in kept[1:]:
        assert s.time.weekday() == 6 and s.time.hour == 23  # Sunday's last snapshot


def test_keep_monthly_and_yearly() -> None:
    monthly = _kept(Policy(keep_monthly=6))
    assert [(s.time.year, s.time.month) for s in monthly] == [
        (2025, 12),
        (2025, 11),
        (2025, 10),
        (2025, 9),
        (2025, 8),
        (2025, 7),
    ]
    yearly = _kept(Policy(keep_yearly=5))  # only two years exist: both kept
    assert [s.time.year for s in yearly] == [2025, 2024]
    assert yearly[1].time == datetime(2024, 12, 31, 23, 30, tzinfo=UTC)


def test_minus_one_means_every_period() -> None:
    assert len(_kept(Policy(keep_monthly=-1))) == 24


def test_keep_within_is_relative_to_newest() -> None:
    kept = _kept(Policy(keep_within=parse_duration("2d")))
    assert len(kept) == 49  # 48 hours back inclusive
    assert all(NEWEST - s.time <= timedelta(days=2) for s in kept)


def test_keep_tag() -> None:
    cal = _calendar(tags_every=24 * 30)
    kept = _kept(Policy(keep_tags=("monthly-audit",)), cal)
    assert kept and all("monthly-audit" in s.tags for s in kept)
    assert len(kept) == len([s for s in cal if s.tags])


def test_rules_combine_and_reasons_name_each_rule() -> None:
    decisions = apply_policy(CAL, Policy(keep_last=1, keep_daily=2, keep_yearly=1), tz=UTC)
    newest = decisions[0]
    assert newest.snapshot.seq == HOURS
    assert set(newest.reasons) == {"last snapshot", "daily snapshot", "yearly snapshot"}
    assert sum(d.keep for d in decisions) == 2
    assert not decisions[1].keep and decisions[1].reasons == ()


def test_empty_policy_keeps_nothing() -> None:
    assert Policy().is_empty()
    assert not any(d.keep for d in apply_policy(CAL[:10], Policy(), tz=UTC))


@pytest.mark.parametrize("text", ["", "abc", "30", "d30", "1x"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(RequestError):
        parse_duration(text)


def test_durations() -> None:
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration("1y2m") == timedelta(days=425)
    assert parse_duration("2w12h") == timedelta(days=14, hours=12)
