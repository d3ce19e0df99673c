"""The OpenAlgo common symbol format (spec §4.1): parsing, formatting and routing, in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from brokers.enums import INDEX_UNDERLYING_EXCHANGE, Exchange, OptionType


class SymbolFormatError(ValueError):
    """A symbol, expiry or strike that does not follow the OpenAlgo format."""


@dataclass(frozen=True)
class ParsedSymbol:
    base: str
    kind: str  # "EQ", "INDEX", "FUT" or "OPT"
    expiry: date | None = None
    strike: Decimal | None = None
    option_type: OptionType | None = None


EQ, INDEX, FUT, OPT = "EQ", "INDEX", "FUT", "OPT"

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTH_NUMBER = {name: number for number, name in enumerate(MONTHS, start=1)}
_MONTH = "|".join(MONTHS)

# A base/ticker: upper-case letters, digits and the punctuation real tickers use (M&M, BAJAJ-AUTO).
_NAME = r"[A-Z0-9][A-Z0-9&_-]*"
_NAME_RE = re.compile(rf"{_NAME}\Z")
_FUTURE_RE = re.compile(rf"(?P<base>{_NAME})(?P<day>\d{{2}})(?P<month>{_MONTH})(?P<year>\d{{2}})FUT\Z")
# The base is greedy so the date is the *last* DDMMMYY: after it only strike digits and CE/PE follow,
# which is what makes bases ending in digits (726GS2033) unambiguous.
_OPTION_RE = re.compile(
    rf"(?P<base>{_NAME})(?P<day>\d{{2}})(?P<month>{_MONTH})(?P<year>\d{{2}})"
    rf"(?P<strike>\d+(?:\.\d+)?)(?P<type>CE|PE)\Z"
)
# NCO's month-only forms (ALUMINI26MAYFUT, COPPER26MAY1195CE): the day is not in the symbol.
_NCO_FUTURE_RE = re.compile(rf"(?P<base>{_NAME})(?P<year>\d{{2}})(?P<month>{_MONTH})FUT\Z")
_NCO_OPTION_RE = re.compile(
    rf"(?P<base>{_NAME})(?P<year>\d{{2}})(?P<month>{_MONTH})(?P<strike>\d+(?:\.\d+)?)(?P<type>CE|PE)\Z"
)
_EXPIRY_RE = re.compile(rf"(?P<day>\d{{2}})(?P<sep>-?)(?P<month>{_MONTH})(?P=sep)(?P<year>\d{{2}})\Z")

# NSE/BSE series a broker may append to a cash symbol: EQ (rolling), BE/BZ (trade-for-trade),
# BL (block window), SM/ST (SME platform). Anything else after a hyphen is part of the ticker.
EQUITY_SERIES_SUFFIXES = frozenset({"EQ", "BE", "BZ", "BL", "SM", "ST"})


def _exchange(exchange: Exchange | str) -> Exchange:
    try:
        return Exchange(str(exchange).upper())
    except ValueError:
        raise SymbolFormatError(f"Unknown exchange {exchange!r}")


def _check_name(name: str, what: str = "symbol") -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SymbolFormatError(
            f"Invalid {what} {name!r}: use upper-case letters, digits, '&', '-' or '_', no spaces")
    return name


def _date(day: str, month: str, year: str, text: str) -> date:
    try:
        return date(2000 + int(year), _MONTH_NUMBER[month], int(day))
    except ValueError:
        raise SymbolFormatError(f"Invalid expiry date in {text!r}")


def _strike(text: str, symbol: str) -> Decimal:
    strike = Decimal(text)
    if strike <= 0:
        raise SymbolFormatError(f"Invalid strike in {symbol!r}")
    return strike


def parse_symbol(symbol: str, exchange: Exchange | str) -> ParsedSymbol:
    """Split an OpenAlgo symbol into its parts; the exchange decides which shapes are allowed.

    ``*_INDEX`` exchanges give INDEX, cash exchanges give EQ, derivative exchanges must give a
    FUT (``<BASE><DDMMMYY>FUT``) or an OPT (``<BASE><DDMMMYY><STRIKE><CE|PE>``). On NCO the
    month-only forms are read first (an NCO option such as ``COPPER26MAY1195CE`` would also
    fit the dated pattern); they parse with ``expiry=None`` because the day is not in the
    symbol: read it from the master contract.
    """
    exch = _exchange(exchange)
    if not isinstance(symbol, str) or not symbol:
        raise SymbolFormatError("Symbol is required")
    if exch.is_index:
        return ParsedSymbol(base=_check_name(symbol), kind=INDEX)
    if not exch.is_derivative:
        return ParsedSymbol(base=_check_name(symbol), kind=EQ)
    if match := _FUTURE_RE.match(symbol):
        expiry = _date(match["day"], match["month"], match["year"], symbol)
        return ParsedSymbol(base=match["base"], kind=FUT, expiry=expiry)
    option = _OPTION_RE.match(symbol)
    if exch == Exchange.NCO:
        if match := _NCO_FUTURE_RE.match(symbol):
            return ParsedSymbol(base=match["base"], kind=FUT)
        # COPPER26MAY1195CE also reads as COPPER 26-MAY-11 strike 95; NCO writes month-only
        # options, so that reading wins whenever it fits.
        if month_only := _NCO_OPTION_RE.match(symbol):
            return ParsedSymbol(base=month_only["base"], kind=OPT, strike=_strike(month_only["strike"], symbol),
                                option_type=OptionType(month_only["type"]))
    if option:
        expiry = _date(option["day"], option["month"], option["year"], symbol)
        return ParsedSymbol(base=option["base"], kind=OPT, expiry=expiry, strike=_strike(option["strike"], symbol),
                            option_type=OptionType(option["type"]))
    raise SymbolFormatError(
        f"Invalid {exch} symbol {symbol!r}: expected <BASE><DDMMMYY>FUT or <BASE><DDMMMYY><STRIKE><CE|PE>")


def format_expiry(day: date) -> str:
    """``28NOV25``: the expiry as written in symbols and requests."""
    return f"{day.day:02d}{MONTHS[day.month - 1]}{day.year % 100:02d}"


def format_master_expiry(day: date) -> str:
    """``28-NOV-25``: the expiry as written in master-contract rows and /expiry responses."""
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year % 100:02d}"


def parse_expiry(text: str) -> date:
    """Read ``28NOV25`` or ``28-NOV-25`` (any case) into a date in 2000-2099."""
    match = _EXPIRY_RE.match(text.upper()) if isinstance(text, str) else None
    if match is None:
        raise SymbolFormatError(f"Invalid expiry {text!r}: expected DDMMMYY (28NOV25) or DD-MMM-YY (28-NOV-25)")
    return _date(match["day"], match["month"], match["year"], text)


def format_strike(strike: Decimal | int | str) -> str:
    """A strike as symbols write it: ``20800`` for whole numbers, ``292.5`` otherwise, never an exponent."""
    try:
        value = Decimal(str(strike))
    except InvalidOperation:
        raise SymbolFormatError(f"Invalid strike {strike!r}")
    if not value.is_finite() or value <= 0:
        raise SymbolFormatError(f"Invalid strike {strike!r}")
    return format(value.normalize(), "f")


def format_future(base: str, expiry: date) -> str:
    return f"{_check_name(base, 'base')}{format_expiry(expiry)}FUT"


def format_option(base: str, expiry: date, strike: Decimal | int | str, option_type: OptionType | str) -> str:
    try:
        kind = OptionType(str(option_type).upper())
    except ValueError:
        raise SymbolFormatError(f"Invalid option type {option_type!r}: use CE or PE")
    return f"{_check_name(base, 'base')}{format_expiry(expiry)}{format_strike(strike)}{kind}"


def underlying_exchange(base: str, derivative_exchange: Exchange | str) -> Exchange:
    """Where the underlying of ``base`` is quoted (spec §4.1 routing, §9.0 step 3).

    NFO/BFO: the index exchange for the index names of ``INDEX_UNDERLYING_EXCHANGE``, otherwise
    the cash market (NSE for NFO, BSE for BFO). Commodity and currency derivatives (MCX, NCO,
    NCDEX, CDS, BCD) and CRYPTO have no separately traded spot, so their underlying is quoted on
    the same exchange (the nearest future). A non-derivative exchange is returned as it is.
    """
    exch = _exchange(derivative_exchange)
    if exch in (Exchange.NFO, Exchange.BFO):
        index = INDEX_UNDERLYING_EXCHANGE.get(base.upper())
        if index is not None:
            return index
        return Exchange.NSE if exch == Exchange.NFO else Exchange.BSE
    return exch


def derivative_exchange(exchange: Exchange | str) -> Exchange:
    """The options exchange for an underlying's exchange (spec §9.0 step 4)."""
    exch = _exchange(exchange)
    if exch in (Exchange.NSE, Exchange.NSE_INDEX):
        return Exchange.NFO
    if exch in (Exchange.BSE, Exchange.BSE_INDEX):
        return Exchange.BFO
    if exch.is_derivative:
        return exch
    return Exchange.NFO


def strip_broker_suffix(symbol: str) -> str:
    """``RELIANCE-EQ`` -> ``RELIANCE``; only series suffixes go, so ``BAJAJ-AUTO`` stays."""
    head, sep, tail = symbol.rpartition("-")
    if sep and head and tail.upper() in EQUITY_SERIES_SUFFIXES:
        return head
    return symbol
