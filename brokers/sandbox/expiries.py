"""The exchanges' expiry rules, so the sandbox's futures and option chains roll forward by themselves.

Rules in force, and where they come from:

* SEBI circular SEBI/HO/MRD/MRD-TPD-1/P/CIR/2025/76 of 26 May 2025 ("Final Settlement Day
  (Expiry Day) for Equity Derivatives Contracts"): each exchange expires all its equity
  derivatives on one weekday, Tuesday or Thursday; one weekly benchmark-index option may stay;
  everything else is monthly, on the last such weekday of the month. NSE's and BSE's circulars
  of 16-17 June 2025 (SEBI's approval) put NSE on Tuesday and BSE on Thursday for contracts
  expiring from 1 September 2025.
  NFO: NIFTY weekly options every Tuesday plus monthly; BANKNIFTY, FINNIFTY, MIDCPNIFTY,
  NIFTYNXT50, index futures and stock F&O monthly on the last Tuesday.
  BFO: SENSEX weekly options every Thursday plus monthly; BANKEX, SENSEX50, futures and stock
  F&O monthly on the last Thursday.
  An expiry on a trading holiday moves to the previous trading day (e.g. SENSEX 15 Jan 2026 ->
  14 Jan 2026; NIFTY 31 Mar 2026 -> 30 Mar 2026).
* CDS/BCD (NSE's announcement of weekly USDINR options, Nov 2018, and the currency futures
  specification): futures and monthly options expire two working days before the last
  business day of the month; USDINR weekly options expire every Friday, except in the week in
  which the monthly contract expires.
* MCX crude oil and natural gas track NYMEX: the MCX contract for month M expires on the
  business day before the NYMEX last trading day of the M+1 contract (WTI: 3 US business days
  before the 25th of M, 4 if the 25th is not a business day; Henry Hub: 3 US business days
  before the 1st of M+1), counting only days both MCX and New York are open. This reproduces
  MCX's published 2026 crude calendar (16 Jan, 19 Feb, 19 Mar, 20 Apr, 18 May, 18 Jun, ...).
  Their options expire two MCX business days before the futures (MCX crude oil mini options
  specification).
* MCX bullion: GOLD (Feb/Apr/Jun/Aug/Oct/Dec), GOLDM (every month) and SILVER
  (Mar/May/Jul/Sep/Dec) futures expire on the 5th; SILVERM and SILVERMIC (Feb/Apr/Jun/Aug/Nov)
  and the base metals (every month) on the last business day of the month.
* Approximations (stated, not published as rules): bullion and base-metal options expire seven
  MCX business days before their futures (matches e.g. SILVER options 24 Jun 2020 vs futures
  3 Jul 2020 and GOLDM options 25 Oct 2023 vs futures 3 Nov 2023); US holidays are the
  federal ones CME observes; NCDEX agri futures expire on the 20th; NIFTY's quarterly and
  half-yearly long-dated options are not generated.

Business days come from ``brokers.calendar`` (MCX's evening-only days count, as MCX
expires contracts on them); for a year the calendar has no data for, weekdays are used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from brokers import calendar
from brokers.enums import Exchange

MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = range(5)
ALL_MONTHS = frozenset(range(1, 13))
ANY = "*"  # the fallback underlying of an exchange (any stock, any other commodity)

# Monthly rules
LAST_WEEKDAY = "last_weekday"  # last <weekday> of the month
DAY_OF_MONTH = "day_of_month"  # a fixed day (the 5th)
LAST_BUSINESS_DAY = "last_business_day"  # minus ``business_days_before``
NYMEX_CRUDE = "nymex_crude"
NYMEX_NATGAS = "nymex_natgas"


class NoExpiryRule(LookupError):
    """No expiry rule is known for this underlying on this exchange."""


@dataclass(frozen=True)
class ExpiryRule:
    exchange: Exchange
    monthly: str
    weekday: int | None = None  # LAST_WEEKDAY
    day_of_month: int | None = None  # DAY_OF_MONTH
    business_days_before: int = 0  # LAST_BUSINESS_DAY
    months: frozenset[int] = ALL_MONTHS  # contract months of the futures
    weekly_weekday: int | None = None  # weekly options on this weekday
    skip_weekly_in_monthly_week: bool = False
    option_lag: int = 0  # options expire this many business days before their futures
    has_options: bool = True
    options_listed: int = 3
    futures_listed: int = 3


def _nse(weekly: bool = False) -> ExpiryRule:
    return ExpiryRule(Exchange.NFO, LAST_WEEKDAY, weekday=TUESDAY,
                      weekly_weekday=TUESDAY if weekly else None, options_listed=8 if weekly else 3)


def _bse(weekly: bool = False) -> ExpiryRule:
    return ExpiryRule(Exchange.BFO, LAST_WEEKDAY, weekday=THURSDAY,
                      weekly_weekday=THURSDAY if weekly else None, options_listed=8 if weekly else 3)


def _currency(exchange: Exchange, weekly: bool = False) -> ExpiryRule:
    return ExpiryRule(exchange, LAST_BUSINESS_DAY, business_days_before=2,
                      weekly_weekday=FRIDAY if weekly else None, skip_weekly_in_monthly_week=weekly,
                      options_listed=6 if weekly else 3)


def _mcx(monthly: str, *, months: frozenset[int] = ALL_MONTHS, day: int | None = None, lag: int = 7) -> ExpiryRule:
    return ExpiryRule(Exchange.MCX, monthly, day_of_month=day, months=months, option_lag=lag)


EVEN_MONTHS = frozenset({2, 4, 6, 8, 10, 12})
SILVER_MONTHS = frozenset({3, 5, 7, 9, 12})
SILVER_MINI_MONTHS = frozenset({2, 4, 6, 8, 11})
NFO, BFO, MCX, CDS, BCD = Exchange.NFO, Exchange.BFO, Exchange.MCX, Exchange.CDS, Exchange.BCD

RULES: dict[tuple[Exchange, str], ExpiryRule] = {
    (NFO, "NIFTY"): _nse(weekly=True),
    **{(NFO, name): _nse() for name in ("BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50", ANY)},
    (BFO, "SENSEX"): _bse(weekly=True),
    **{(BFO, name): _bse() for name in ("BANKEX", "SENSEX50", ANY)},
    (CDS, "USDINR"): _currency(CDS, weekly=True),
    (CDS, ANY): _currency(CDS),
    (BCD, "USDINR"): _currency(BCD, weekly=True),
    (BCD, ANY): _currency(BCD),
    (MCX, "CRUDEOIL"): _mcx(NYMEX_CRUDE, lag=2),
    (MCX, "CRUDEOILM"): _mcx(NYMEX_CRUDE, lag=2),
    (MCX, "NATURALGAS"): _mcx(NYMEX_NATGAS, lag=2),
    (MCX, "NATGASMINI"): _mcx(NYMEX_NATGAS, lag=2),
    (MCX, "GOLD"): _mcx(DAY_OF_MONTH, day=5, months=EVEN_MONTHS),
    (MCX, "GOLDM"): _mcx(DAY_OF_MONTH, day=5),
    (MCX, "SILVER"): _mcx(DAY_OF_MONTH, day=5, months=SILVER_MONTHS),
    (MCX, "SILVERM"): _mcx(LAST_BUSINESS_DAY, months=SILVER_MINI_MONTHS),
    (MCX, "SILVERMIC"): _mcx(LAST_BUSINESS_DAY, months=SILVER_MINI_MONTHS),
    (MCX, ANY): _mcx(LAST_BUSINESS_DAY),  # base metals and the rest
    (Exchange.NCDEX, ANY): ExpiryRule(Exchange.NCDEX, DAY_OF_MONTH, day_of_month=20, has_options=False),
}


def rule_for(underlying: str, exchange: Exchange | str) -> ExpiryRule:
    """The rule for ``underlying`` on ``exchange``, or the exchange's fallback."""
    exch = Exchange(str(exchange).upper())
    rule = RULES.get((exch, underlying.upper())) or RULES.get((exch, ANY))
    if rule is None:
        raise NoExpiryRule(f"No expiry rule for {underlying} on {exch}")
    return rule


# -- business days ------------------------------------------------------------------------------

def is_business_day(exchange: Exchange, day: date) -> bool:
    try:
        return calendar.is_trading_day(exchange, day)
    except calendar.CalendarUnavailable:
        return day.weekday() < 5


def _on_or_before(exchange: Exchange, day: date) -> date:
    while not is_business_day(exchange, day):
        day -= timedelta(days=1)
    return day


def _business_days_before(exchange: Exchange, day: date, count: int) -> date:
    for _ in range(count):
        day = _on_or_before(exchange, day - timedelta(days=1))
    return day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = _month_end(year, month)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's name
    m = (a + 11 * h + 19 * l) // 433
    month = (h + l - 7 * m + 90) // 25
    return date(year, month, (h + l - 7 * m + 33 * month + 19) % 32)


def _observed(day: date) -> date:
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


@cache
def us_holidays(year: int) -> frozenset[date]:
    """The days NYMEX does not settle: US federal holidays CME observes, plus Good Friday."""
    return frozenset({
        _observed(date(year, 1, 1)), _nth_weekday(year, 1, MONDAY, 3), _nth_weekday(year, 2, MONDAY, 3),
        _easter(year) - timedelta(days=2), _last_weekday(year, 5, MONDAY), _observed(date(year, 6, 19)),
        _observed(date(year, 7, 4)), _nth_weekday(year, 9, MONDAY, 1), _nth_weekday(year, 11, THURSDAY, 4),
        _observed(date(year, 12, 25)),
    })


def _us_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in us_holidays(day.year)


def _us_business_days_before(day: date, count: int) -> date:
    while count:
        day -= timedelta(days=1)
        if _us_business_day(day):
            count -= 1
    return day


def _nymex_expiry(monthly: str, year: int, month: int) -> date:
    """Last trading day of the NYMEX contract for the month after (year, month)."""
    if monthly == NYMEX_CRUDE:
        the_25th = date(year, month, 25)
        return _us_business_days_before(the_25th, 3 if _us_business_day(the_25th) else 4)
    return _us_business_days_before(_month_end(year, month) + timedelta(days=1), 3)


# -- expiries -----------------------------------------------------------------------------------

def monthly_expiry(rule: ExpiryRule, year: int, month: int) -> date:
    """The futures (and monthly options, lag aside) expiry of contract month (year, month)."""
    exch = rule.exchange
    if rule.monthly == LAST_WEEKDAY:
        assert rule.weekday is not None  # a LAST_WEEKDAY rule names its weekday
        return _on_or_before(exch, _last_weekday(year, month, rule.weekday))
    if rule.monthly == DAY_OF_MONTH:
        assert rule.day_of_month is not None  # a DAY_OF_MONTH rule names its day
        return _on_or_before(exch, date(year, month, rule.day_of_month))
    if rule.monthly == LAST_BUSINESS_DAY:
        return _business_days_before(exch, _on_or_before(exch, _month_end(year, month)), rule.business_days_before)
    day = _nymex_expiry(rule.monthly, year, month) - timedelta(days=1)
    while not (is_business_day(exch, day) and _us_business_day(day)):
        day -= timedelta(days=1)
    return day


def _months_from(day: date) -> Iterator[tuple[int, int]]:
    year, month = day.year, day.month
    while True:
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _futures(rule: ExpiryRule, today: date) -> Iterator[date]:
    for year, month in _months_from(today):
        if month in rule.months:
            expiry = monthly_expiry(rule, year, month)
            if expiry >= today:
                yield expiry


def _monthly_options(rule: ExpiryRule, today: date) -> Iterator[date]:
    # Options expire up to ~10 days before their future: start early enough not to miss one.
    for expiry in _futures(rule, today - timedelta(days=40)):
        option = _business_days_before(rule.exchange, expiry, rule.option_lag) if rule.option_lag else expiry
        if option >= today:
            yield option


def _weeklies(rule: ExpiryRule, today: date, monthlies: set[date]) -> Iterator[date]:
    assert rule.weekly_weekday is not None  # only asked of a rule with weekly options
    day = today + timedelta(days=(rule.weekly_weekday - today.weekday()) % 7)
    monthly_weeks = {m.isocalendar()[:2] for m in monthlies}
    while True:
        expiry = _on_or_before(rule.exchange, day)
        if expiry >= today and not (rule.skip_weekly_in_monthly_week and expiry.isocalendar()[:2] in monthly_weeks):
            yield expiry
        day += timedelta(days=7)


def _take(iterator: Iterator[date], count: int) -> list[date]:
    return [next(iterator) for _ in range(count)]


def future_expiries(underlying: str, exchange: Exchange | str, today: date, count: int = 3) -> list[date]:
    """The next ``count`` futures expiries on or after ``today`` (an expiry today still trades)."""
    return _take(_futures(rule_for(underlying, exchange), today), count)


def option_expiries(underlying: str, exchange: Exchange | str, today: date, count: int | None = None) -> list[date]:
    """The next ``count`` option expiries on or after ``today``, weekly and monthly merged,
    ascending, without duplicates; ``count`` defaults to what the exchange lists."""
    rule = rule_for(underlying, exchange)
    if not rule.has_options:
        return []
    count = rule.options_listed if count is None else count
    monthlies = _take(_monthly_options(rule, today), count)
    if rule.weekly_weekday is None or count == 0:
        return monthlies
    # The first ``count`` merged expiries all fall on or before the count-th monthly one.
    merged = sorted(set(monthlies))
    for weekly in _weeklies(rule, today, set(monthlies)):
        if weekly > monthlies[-1]:
            break
        merged.append(weekly)
    return sorted(set(merged))[:count]


def is_monthly_expiry(underlying: str, exchange: Exchange | str, day: date) -> bool:
    """Whether ``day`` is a monthly expiry of the underlying: its futures' or its monthly options'."""
    rule = rule_for(underlying, exchange)
    months = [(day.year, day.month)]
    months.append((day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1))
    months.append((day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1))
    futures = {monthly_expiry(rule, year, month) for year, month in months if month in rule.months}
    options = {_business_days_before(rule.exchange, f, rule.option_lag) for f in futures} if rule.has_options else set()
    return day in futures | options
