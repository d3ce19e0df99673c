"""Schedules of hosted strategies: 24/7, a weekday window in IST, and windows that cross
midnight; and the restart backoff."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from strategies.hosted.schedule import IST, Schedule
from strategies.hosted.supervisor import backoff

WEEKDAYS = frozenset(range(5))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """November 2026: the 2nd is a Monday, so ``day`` 2..8 is Monday..Sunday (IST)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=IST)


def test_a_24_7_schedule_is_open_at_every_hour_of_every_day():
    schedule = Schedule(always_on=True, days=frozenset(), start=time(9, 15), end=time(15, 30))
    assert all(schedule.is_open(at(day, hour, 59)) for day in range(2, 9) for hour in range(24))
    assert schedule.describe() == "24/7"


def test_a_market_hours_window_is_open_inside_it_on_its_days_only():
    schedule = Schedule(always_on=False, days=WEEKDAYS, start=time(9, 15), end=time(15, 30))
    assert schedule.is_open(at(2, 9, 15)) and schedule.is_open(at(6, 15, 29))
    assert not schedule.is_open(at(2, 9, 14)) and not schedule.is_open(at(2, 15, 30))
    assert not schedule.is_open(at(7, 10)) and not schedule.is_open(at(8, 10))  # Saturday, Sunday
    assert schedule.opened_at(at(3, 12)) == at(3, 9, 15)


def test_a_window_that_ends_before_it_starts_runs_overnight_into_the_next_day():
    schedule = Schedule(always_on=False, days=frozenset({4}), start=time(21, 0), end=time(2, 30))  # Friday night
    assert schedule.overnight
    assert schedule.is_open(at(6, 21)) and schedule.is_open(at(6, 23, 59))
    assert schedule.is_open(at(7, 0, 10)) and schedule.is_open(at(7, 2, 29))  # Saturday small hours
    assert schedule.opened_at(at(7, 1)) == at(6, 21)
    assert not schedule.is_open(at(7, 2, 30)) and not schedule.is_open(at(7, 21))  # Saturday is not a day of it
    assert not schedule.is_open(at(6, 1))  # Friday small hours belong to Thursday's window, not scheduled
    assert "overnight" in schedule.describe()


def test_the_window_is_read_in_ist_whatever_the_clock_zone():
    schedule = Schedule(always_on=False, days=WEEKDAYS, start=time(9, 15), end=time(15, 30))
    assert schedule.is_open(datetime.fromisoformat("2026-11-02T03:45:00+00:00"))  # 09:15 IST
    assert not schedule.is_open(datetime.fromisoformat("2026-11-02T10:00:00+00:00"))  # 15:30 IST


@pytest.mark.parametrize(("crashes", "seconds"), [(1, 5), (2, 10), (3, 20), (6, 160), (7, 300), (50, 300)])
def test_the_restart_backoff_doubles_per_crash_and_is_capped(settings, crashes, seconds):
    settings.HOSTED_BACKOFF_SECONDS, settings.HOSTED_BACKOFF_MAX_SECONDS = 5, 300
    assert backoff(crashes) == seconds
