"""Candle arithmetic shared by every data source: calendar aggregation (W, M, Q, Y from
daily bars) and the spec's timestamp rule for daily and longer bars (§7.4)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from brokers.base import Candle
from core.values import IST

CALENDAR_INTERVALS = ("D", "W", "M", "Q", "Y")


def ist_date(timestamp: int) -> date:
    return datetime.fromtimestamp(timestamp, IST).date()


def utc_midnight(day: date) -> int:
    """Daily and longer bars carry 00:00 UTC of their IST date (the SDK shows that date)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _period_start(day: date, interval: str) -> date:
    if interval == "W":
        return day - timedelta(days=day.weekday())
    if interval == "M":
        return day.replace(day=1)
    if interval == "Q":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if interval == "Y":
        return day.replace(month=1, day=1)
    return day


def calendar_bars(daily: Iterable[Candle], interval: str) -> list[Candle]:
    """Daily candles (any timestamp within their IST day) -> ``interval`` bars, stamped
    with 00:00 UTC of the period's first IST date."""
    bars: dict[date, Candle] = {}
    for candle in sorted(daily, key=lambda c: c.timestamp):
        start = _period_start(ist_date(candle.timestamp), interval)
        bar = bars.get(start)
        if bar is None:
            bars[start] = Candle(timestamp=utc_midnight(start), open=candle.open, high=candle.high, low=candle.low,
                                 close=candle.close, volume=candle.volume, oi=candle.oi)
        else:
            bars[start] = Candle(timestamp=bar.timestamp, open=bar.open, high=max(bar.high, candle.high),
                                 low=min(bar.low, candle.low), close=candle.close,
                                 volume=bar.volume + candle.volume, oi=candle.oi)
    return [bars[key] for key in sorted(bars)]
