"""The sandbox's sense of time: trading sessions, MIS cut-offs and square-off instants,
under either clock (``SIM_MARKET_HOURS``: ``always`` open, or ``exchange`` timings)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from core.values import IST as IST  # re-exported: the sandbox reads its zone from here

# Spec §2.9: MIS square-off times (IST) per exchange.
SQUARE_OFF = {
    "NSE": time(15, 15), "BSE": time(15, 15), "NFO": time(15, 15), "BFO": time(15, 15),
    "CDS": time(16, 45), "BCD": time(16, 45),
    "MCX": time(23, 30), "NCO": time(23, 30),
    "NCDEX": time(17, 0),
    "CRYPTO": time(23, 59),
}
MIS_OPENS = time(9, 0)


def now() -> datetime:
    return timezone.now()


def always_open() -> bool:
    return getattr(settings, "SIM_MARKET_HOURS", "always") != "exchange"


def _boundary() -> time:
    hours, minutes = (int(part) for part in settings.SESSION_EXPIRY_TIME.split(":"))
    return time(hours, minutes)


def session_date(at: datetime) -> date:
    """The trading session ``at`` belongs to: the IST date, rolling at SESSION_EXPIRY_TIME
    (03:00 by default), so an order at 01:00 still belongs to the previous day's books."""
    local = at.astimezone(IST)
    boundary = _boundary()
    shifted = local - timedelta(hours=boundary.hour, minutes=boundary.minute)
    return shifted.date()


def session_start(day: date) -> datetime:
    """When session ``day`` begins (its boundary), as an aware datetime."""
    return datetime.combine(day, _boundary(), IST)


def session_end(day: date) -> datetime:
    return session_start(day + timedelta(days=1))


def square_off_instant(exchange: str, day: date, times: Mapping[str, time] | None = None) -> datetime:
    """When MIS positions of ``exchange`` opened in session ``day`` are closed: the exchange's
    cut-off under exchange hours, the session boundary when the market never closes."""
    if always_open():
        return session_end(day)
    return datetime.combine(day, (times or SQUARE_OFF).get(exchange, SQUARE_OFF.get(exchange, time(15, 15))), IST)


def mis_window_closed(exchange: str, at: datetime, times: Mapping[str, time] | None = None) -> bool:
    """Under exchange hours no new MIS exposure after the cut-off (the trader's ``times``, or
    the defaults) or before 09:00 IST."""
    if always_open():
        return False
    local = at.astimezone(IST).time()
    cut_off = (times or SQUARE_OFF).get(exchange, SQUARE_OFF.get(exchange, time(15, 15)))
    return local >= cut_off or local < MIS_OPENS


def ist_text(at: datetime) -> str:
    return at.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")
