"""The exchange calendar: trading holidays, special sessions and session hours (spec §10.4, §10.5).

The holidays live as data, one JSON file per year in ``brokers/data/holidays/``. Each entry
names the exchanges *closed* all day and the exchanges open only for part of it (``sessions``:
``"morning"`` 09:00-17:00, ``"evening"`` 17:00-close, or an explicit ``[start, end]`` such as
Muhurat trading). Weekends are closed for everything but CRYPTO.

Two sets of hours, on purpose:

* ``REPORTED_HOURS`` are the defaults ``/market/timings`` reports (spec §10.5, the reference's
  values: NFO/BFO until 15:40, MCX/NCO until 23:55 all year).
* ``session_bounds``/``is_open`` give the exchange's real session, which the sandbox trades:
  F&O closes with cash at 15:30, and MCX/NCO close at 23:30 while the US is on daylight-saving
  time and at 23:55 otherwise (MCX contract specifications: "11.30/11.55 p.m., based on US
  daylight saving time").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from brokers.enums import Exchange
from core.values import IST

NEW_YORK = ZoneInfo("America/New_York")
DATA_DIR = Path(__file__).resolve().parent / "data" / "holidays"

TRADING_HOLIDAY = "TRADING_HOLIDAY"
SETTLEMENT_HOLIDAY = "SETTLEMENT_HOLIDAY"
SPECIAL_SESSION = "SPECIAL_SESSION"
HOLIDAY_TYPES = (TRADING_HOLIDAY, SETTLEMENT_HOLIDAY, SPECIAL_SESSION)


class CalendarUnavailable(LookupError):
    """No holiday data for the year asked about."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(f"Market calendar not available for {year}; known years: {known_years()}")


E = Exchange
# The exchanges the holiday data speaks about, in the order §10.4 lists them.
CALENDAR_EXCHANGES = (E.NSE, E.BSE, E.NFO, E.BFO, E.CDS, E.BCD, E.MCX, E.NCO, E.NCDEX)
# /market/timings entries, in the order §10.5 gives.
TIMINGS_ORDER = (E.NSE, E.BSE, E.NFO, E.BFO, E.MCX, E.BCD, E.CDS, E.NCO, E.CRYPTO)


def _at(hours: int, minutes: int = 0, seconds: int = 0) -> timedelta:
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


Session = tuple[timedelta, timedelta]  # offsets from IST midnight of the day

REPORTED_HOURS: Mapping[Exchange, Session] = MappingProxyType({
    E.NSE: (_at(9, 15), _at(15, 30)), E.BSE: (_at(9, 15), _at(15, 30)),
    E.NFO: (_at(9, 15), _at(15, 40)), E.BFO: (_at(9, 15), _at(15, 40)),
    E.CDS: (_at(9), _at(17)), E.BCD: (_at(9), _at(17)),
    E.MCX: (_at(9), _at(23, 55)), E.NCO: (_at(9), _at(23, 55)),
    E.NCDEX: (_at(9), _at(17)),
    E.CRYPTO: (_at(0), _at(23, 59, 59)),
})
TRADING_HOURS: Mapping[Exchange, Session] = MappingProxyType({
    **REPORTED_HOURS,
    E.NFO: (_at(9, 15), _at(15, 30)), E.BFO: (_at(9, 15), _at(15, 30)),
    E.CRYPTO: (_at(0), _at(24)),
    E.GLOBAL_INDEX: (_at(0), _at(24)),
})
US_DST_CLOSE = _at(23, 30)  # MCX/NCO close while New York is on daylight-saving time
MORNING = (_at(9), _at(17))
EVENING_OPENS = _at(17)
_US_LINKED = frozenset({E.MCX, E.NCO})

# Exchanges without a calendar of their own follow another's.
_FOLLOWS = MappingProxyType({E.NSE_INDEX: E.NSE, E.BSE_INDEX: E.BSE, E.MCX_INDEX: E.MCX})
_ALWAYS_OPEN = frozenset({E.CRYPTO})
_WEEKDAYS_ONLY = frozenset({E.GLOBAL_INDEX})  # foreign markets: no Indian holidays


@dataclass(frozen=True)
class Holiday:
    day: date
    description: str
    holiday_type: str
    closed: frozenset[Exchange]
    sessions: Mapping[Exchange, str | Session]  # "morning" | "evening" | explicit offsets


# -- data -------------------------------------------------------------------------------------

def _clock(text: str) -> timedelta:
    hours, minutes = (int(part) for part in text.split(":"))
    return _at(hours, minutes)


def _parse_entry(raw: dict, year: int) -> Holiday:
    day = date.fromisoformat(raw["date"])
    kind = raw["holiday_type"]
    if day.year != year or kind not in HOLIDAY_TYPES:
        raise ValueError(f"Bad holiday entry for {year}: {raw}")
    sessions: dict[Exchange, str | Session] = {}
    for name, value in raw.get("sessions", {}).items():
        if value in ("morning", "evening"):
            sessions[Exchange(name)] = value
        else:
            start, end = (_clock(part) for part in value)
            sessions[Exchange(name)] = (start, end)
    closed = frozenset(Exchange(name) for name in raw.get("closed", []))
    if closed & sessions.keys():
        raise ValueError(f"Exchange both closed and in session on {day}: {raw}")
    return Holiday(day=day, description=raw["description"], holiday_type=kind, closed=closed,
                   sessions=MappingProxyType(sessions))


@cache
def _year(year: int) -> Mapping[date, Holiday]:
    path = DATA_DIR / f"{year}.json"
    if not path.is_file():
        raise CalendarUnavailable(year)
    raw = json.loads(path.read_text(encoding="utf-8"))
    entries = (_parse_entry(item, year) for item in raw["holidays"])
    return MappingProxyType({entry.day: entry for entry in sorted(entries, key=lambda h: h.day)})


@cache
def _known_years() -> tuple[int, ...]:
    return tuple(sorted(int(p.stem) for p in DATA_DIR.glob("*.json") if re.fullmatch(r"\d{4}", p.stem)))


def known_years() -> list[int]:
    """The years the calendar has data for, ascending."""
    return list(_known_years())


def is_provisional(year: int) -> bool:
    """True when the year's holidays are derived, not yet published by the exchanges."""
    _year(year)
    raw = json.loads((DATA_DIR / f"{year}.json").read_text(encoding="utf-8"))
    return bool(raw.get("provisional", False))


def holiday_on(day: date) -> Holiday | None:
    """The calendar entry for ``day``, if any (raises CalendarUnavailable without data)."""
    return _year(day.year).get(day)


# -- sessions ---------------------------------------------------------------------------------

def _calendar_exchange(exchange: Exchange | str) -> Exchange:
    exch = Exchange(str(exchange).upper())
    return _FOLLOWS.get(exch, exch)


def _regular(exch: Exchange, day: date, reported: bool) -> Session:
    if reported:
        return REPORTED_HOURS[exch]
    start, end = TRADING_HOURS[exch]
    if exch in _US_LINKED and datetime.combine(day, time(12), NEW_YORK).dst():
        end = US_DST_CLOSE
    return start, end


def _session(exch: Exchange, day: date, reported: bool) -> Session | None:
    if exch in _ALWAYS_OPEN:
        return _regular(exch, day, reported)
    weekend = day.weekday() >= 5
    if exch in _WEEKDAYS_ONLY:
        return None if weekend else _regular(exch, day, reported)
    entry = holiday_on(day)
    if entry is not None:
        special = entry.sessions.get(exch)
        if special == "morning":
            return MORNING
        if special == "evening":
            return EVENING_OPENS, _regular(exch, day, reported)[1]
        if isinstance(special, tuple):
            return special
        if exch in entry.closed or entry.holiday_type == SPECIAL_SESSION:
            return None
    return None if weekend else _regular(exch, day, reported)


def _instant(day: date, offset: timedelta) -> datetime:
    return datetime.combine(day, time(0), IST) + offset


def session_bounds(exchange: Exchange | str, day: date) -> tuple[datetime, datetime] | None:
    """The exchange's trading session on ``day`` (aware, IST), or None when it does not trade.

    Partial days give the part that trades (MCX's evening session on an equity holiday) and
    special days their special session (Muhurat trading).
    """
    exch = _calendar_exchange(exchange)
    session = _session(exch, day, reported=False)
    if session is None:
        return None
    return _instant(day, session[0]), _instant(day, session[1])


def is_open(exchange: Exchange | str, at: datetime) -> bool:
    """Whether the exchange is trading at the aware instant ``at``."""
    if at.tzinfo is None:
        raise ValueError("is_open needs an aware datetime")
    bounds = session_bounds(exchange, at.astimezone(IST).date())
    return bounds is not None and bounds[0] <= at < bounds[1]


def is_holiday(exchange: Exchange | str, day: date) -> bool:
    """Whether ``day`` is on the exchange's holiday list: its regular session does not take
    place, in full or in part (MCX's morning-closed days count). Weekends are not holidays;
    settlement holidays are not trading holidays."""
    exch = _calendar_exchange(exchange)
    if exch in _ALWAYS_OPEN or exch in _WEEKDAYS_ONLY:
        return False
    entry = holiday_on(day)
    if entry is None or entry.holiday_type == SETTLEMENT_HOLIDAY:
        return False
    return entry.holiday_type == SPECIAL_SESSION or exch in entry.closed or exch in entry.sessions


def is_trading_day(exchange: Exchange | str, day: date) -> bool:
    """A regular trading day: a weekday whose session takes place at least in part.

    Special sessions (Muhurat trading) do not make a trading day; expiries and settlements
    never fall on them.
    """
    exch = _calendar_exchange(exchange)
    if exch in _ALWAYS_OPEN:
        return True
    entry = None if exch in _WEEKDAYS_ONLY else holiday_on(day)
    if day.weekday() >= 5:
        return False
    if entry is None or entry.holiday_type == SETTLEMENT_HOLIDAY:
        return True
    return entry.holiday_type != SPECIAL_SESSION and exch not in entry.closed


_SEARCH_LIMIT = 40  # no exchange closes for longer than this


def previous_trading_day(exchange: Exchange | str, day: date) -> date:
    """The last trading day strictly before ``day``."""
    candidate = day
    for _ in range(_SEARCH_LIMIT):
        candidate -= timedelta(days=1)
        if is_trading_day(exchange, candidate):
            return candidate
    raise CalendarUnavailable(candidate.year)


def next_trading_day(exchange: Exchange | str, day: date) -> date:
    """The first trading day strictly after ``day``."""
    candidate = day
    for _ in range(_SEARCH_LIMIT):
        candidate += timedelta(days=1)
        if is_trading_day(exchange, candidate):
            return candidate
    raise CalendarUnavailable(candidate.year)


# -- API shapes -------------------------------------------------------------------------------

def _epoch_ms(day: date, offset: timedelta) -> int:
    return int(_instant(day, offset).timestamp()) * 1000


def _session_row(exch: Exchange, day: date, session: Session) -> dict:
    return {"exchange": str(exch), "start_time": _epoch_ms(day, session[0]),
            "end_time": _epoch_ms(day, session[1])}


def timings(day: date) -> list[dict]:
    """The ``data`` of ``/market/timings`` (spec §10.5) for ``day``, epoch milliseconds.

    Normal weekday: every exchange with its default session. Weekend: CRYPTO only. Trading
    holiday: only the exchanges open that day, with the part they trade (an empty list when all
    are closed; CRYPTO is not listed, as in the reference). Special session: only the special
    sessions. Settlement holiday: the normal sessions.
    """
    entry = holiday_on(day)
    exchanges: tuple[Exchange, ...] = TIMINGS_ORDER
    if entry is not None and entry.holiday_type in (TRADING_HOLIDAY, SPECIAL_SESSION):
        exchanges = tuple(exch for exch in TIMINGS_ORDER if exch not in _ALWAYS_OPEN)
    rows = []
    for exch in exchanges:
        session = _session(exch, day, reported=True)
        if session is not None:
            rows.append(_session_row(exch, day, session))
    return rows


def holidays(year: int) -> list[dict]:
    """The ``data`` of ``/market/holidays`` (spec §10.4) for ``year``, sorted by date."""
    rows = []
    for entry in _year(year).values():
        open_rows = []
        for exch in CALENDAR_EXCHANGES:
            if exch in entry.sessions:
                session = _session(exch, entry.day, reported=True)
                if session is not None:
                    open_rows.append(_session_row(exch, entry.day, session))
        rows.append({
            "date": entry.day.isoformat(),
            "description": entry.description,
            "holiday_type": entry.holiday_type,
            "closed_exchanges": [str(exch) for exch in CALENDAR_EXCHANGES if exch in entry.closed],
            "open_exchanges": open_rows,
        })
    return rows
