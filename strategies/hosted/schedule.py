"""When a hosted strategy should run: 24/7, or on chosen weekdays within a window in IST that
may cross midnight. Pure functions of the schedule and a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Schedule:
    always_on: bool
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def opened_at(self, now: datetime) -> datetime | None:
        """When the window that contains ``now`` opened (IST, aware), or None when ``now`` is
        outside every window. A 24/7 schedule has been open since datetime.min."""
        if self.always_on:
            return datetime.min.replace(tzinfo=IST)
        local = now.astimezone(IST)
        today = local.date()
        for day in (today, today - timedelta(days=1)):
            if day.weekday() not in self.days:
                continue
            opens = datetime.combine(day, self.start, IST)
            closes = datetime.combine(day + timedelta(days=1) if self.overnight else day, self.end, IST)
            if opens <= local < closes:
                return opens
        return None

    def is_open(self, now: datetime) -> bool:
        return self.opened_at(now) is not None

    def describe(self) -> str:
        if self.always_on:
            return "24/7"
        days = ", ".join(DAY_NAMES[day] for day in sorted(self.days)) or "no day"
        overnight = " (overnight)" if self.overnight else ""
        return f"{days} {self.start:%H:%M} to {self.end:%H:%M} IST{overnight}"
