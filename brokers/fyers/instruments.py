"""Fyers' symbol master -> our master-contract rows (spec §4), as pure functions.

The master is one CSV per segment at ``public.fyers.in/sym_details/<SEG>.csv``, without a
header row. Its columns, in order (Docs "Symbol Master"): Fytoken, Symbol Details, Exchange
Instrument type, Minimum lot size, Tick size, ISIN, Trading Session, Last update date,
Expiry date (epoch s), Symbol ticker, Exchange, Segment, Scrip code, Underlying symbol,
Underlying scrip code, Strike price, Option type (CE/PE/XX), Underlying FyToken, then
reserved columns.

Our symbol is built from the structured columns, never parsed out of the ticker: the
ticker of a future or a monthly option carries no day (``NSE:NIFTY20OCTFUT``) and a weekly
one codes its month in one character (``NSE:NIFTY20O0811000CE``), while the Expiry date
column has the exact day. So a future is ``<underlying><DDMMMYY>FUT`` and an option
``<underlying><DDMMMYY><strike><CE|PE>``, the day read in IST from the epoch."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from brokers.base import InstrumentRow, UnparsableRow
from brokers.enums import Exchange
from brokers.symbols import SymbolFormatError, format_future, format_option
from core.values import IST

from .mapping import SEGMENTS

# The segment files we load, in order. NSE_COM (NSE's commodity segment) is not one of our
# exchanges and is left out.
SEGMENT_FILES = ("NSE_CM", "BSE_CM", "NSE_FO", "BSE_FO", "NSE_CD", "MCX_COM")
COLUMNS = 18  # the documented columns before the reserved ones

FYTOKEN, DETAILS, KIND, LOT, TICK, EXPIRY, TICKER, EXCH, SEG, UNDERLYING, STRIKE, OPTION = (
    0, 1, 2, 3, 4, 8, 9, 10, 11, 13, 15, 16)

# "Exchange Instrument type" codes we keep on the cash segments (0/9 NSE equity and the
# -GB gold bonds (2); 0/4/50 BSE equity groups), and indices (10).
NSE_EQUITY_KINDS = frozenset({0, 9})
BSE_EQUITY_KINDS = frozenset({0, 4, 50})
INDEX_KIND = 10
# Derivative instrument types, named as master rows name them (spec §4.2).
DERIVATIVE_KINDS = {11: "FUTIDX", 13: "FUTSTK", 14: "OPTIDX", 15: "OPTSTK", 16: "FUTCUR", 19: "OPTCUR",
                    30: "FUTCOM", 31: "OPTFUT"}

# Index tickers whose OpenAlgo name is not just the ticker's name (spec §4.1's list).
INDEX_SYMBOLS = {
    "NSE:NIFTY50-INDEX": "NIFTY", "NSE:NIFTYBANK-INDEX": "BANKNIFTY", "NSE:FINNIFTY-INDEX": "FINNIFTY",
    "NSE:MIDCPNIFTY-INDEX": "MIDCPNIFTY", "NSE:NIFTYNXT50-INDEX": "NIFTYNXT50", "NSE:NIFTYNEXT50-INDEX": "NIFTYNXT50",
    "NSE:INDIAVIX-INDEX": "INDIAVIX", "NSE:NIFTYMID50-INDEX": "NIFTYMIDCAP50", "BSE:SENSEX-INDEX": "SENSEX",
    "BSE:BANKEX-INDEX": "BANKEX", "BSE:SENSEX50-INDEX": "SENSEX50",
}


class UnreadableRow(ValueError):
    """A symbol-master row that does not follow the documented columns."""


def _int(text: str, what: str) -> int:
    try:
        return int(Decimal(text.strip()))
    except (InvalidOperation, ValueError):
        raise UnreadableRow(f"{what} is not a number: {text!r}") from None


def _decimal(text: str, what: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise UnreadableRow(f"{what} is not a number: {text!r}") from None


def expiry_day(epoch: str) -> date:
    """The expiry column (epoch seconds) as the trading day in IST."""
    seconds = _int(epoch, "expiry")
    if seconds <= 0:
        raise UnreadableRow(f"no expiry: {epoch!r}")
    return datetime.fromtimestamp(seconds, IST).date()


def index_symbol(ticker: str, underlying: str) -> str:
    """``NSE:NIFTY50-INDEX`` -> ``NIFTY``; others: the name with spaces and hyphens removed."""
    known = INDEX_SYMBOLS.get(ticker)
    if known:
        return known
    name = underlying or ticker.partition(":")[2].removesuffix("-INDEX")
    return name.replace(" ", "").replace("-", "").upper()


def equity_symbol(ticker: str, underlying: str) -> str:
    """``NSE:SBIN-EQ`` / ``BSE:SBIN-A`` -> ``SBIN`` (the underlying column, else the ticker
    without its series)."""
    if underlying:
        return underlying.strip()
    name = ticker.partition(":")[2]
    head, sep, _series = name.rpartition("-")
    return head if sep else name


def instrument_row(fields: list[str], segment: str) -> InstrumentRow | None:
    """One CSV row of ``segment``'s file as our row; None for instruments we do not list
    (NSE commodity, debt and other cash series). Raises UnreadableRow."""
    if len(fields) < COLUMNS:
        raise UnreadableRow(f"{len(fields)} columns, {COLUMNS} documented")
    ticker, fytoken = fields[TICKER].strip(), fields[FYTOKEN].strip()
    exchange = SEGMENTS.get(f"{fields[EXCH].strip()}{fields[SEG].strip()}")
    if exchange is None:
        return None
    if not ticker or not fytoken.isdigit():
        raise UnreadableRow("no ticker or Fytoken")
    kind = _int(fields[KIND], "instrument type")
    underlying = fields[UNDERLYING].strip()
    lot = max(1, _int(fields[LOT], "lot size"))
    tick = _decimal(fields[TICK], "tick size")

    def made(symbol: str, name: str, where: Exchange, expiry: date | None, strike: Decimal | None, lotsize: int,
             instrumenttype: str) -> InstrumentRow:
        return InstrumentRow(symbol=symbol, brsymbol=ticker, name=name, exchange=where, brexchange=segment,
                             token=fytoken, expiry=expiry, strike=strike, lotsize=lotsize,
                             instrumenttype=instrumenttype, tick_size=tick)

    if exchange in (Exchange.NSE, Exchange.BSE):
        if kind == INDEX_KIND:
            index = Exchange.NSE_INDEX if exchange == Exchange.NSE else Exchange.BSE_INDEX
            return made(index_symbol(ticker, underlying), fields[DETAILS].strip(), index, None, None, 1, "")
        equity = NSE_EQUITY_KINDS if exchange == Exchange.NSE else BSE_EQUITY_KINDS
        if kind not in equity and not (exchange == Exchange.NSE and kind == 2 and ticker.endswith("-GB")):
            return None
        return made(equity_symbol(ticker, underlying), fields[DETAILS].strip(), exchange, None, None, lot, "EQ")
    if not underlying:
        raise UnreadableRow("derivative without an underlying symbol")
    base = underlying.replace(" ", "").upper()
    expiry = expiry_day(fields[EXPIRY])
    option = fields[OPTION].strip().upper()
    try:
        if option in ("CE", "PE"):
            strike = _decimal(fields[STRIKE], "strike")
            symbol = format_option(base, expiry, strike, option)
            kind_name = DERIVATIVE_KINDS.get(kind, option)
        elif ticker.endswith("FUT"):
            strike = None
            symbol = format_future(base, expiry)
            kind_name = DERIVATIVE_KINDS.get(kind, "FUT")
        else:
            raise UnreadableRow(f"derivative that is neither a future nor an option: {ticker}")
    except SymbolFormatError as problem:
        raise UnreadableRow(str(problem)) from None
    return made(symbol, base, exchange, expiry, strike, lot, kind_name)


def read_rows(text: str, segment: str) -> Iterator[InstrumentRow | UnparsableRow]:
    """Every line of one segment file: our rows, and UnparsableRow for lines we cannot read
    (skipped by the loader, never an exception)."""
    for fields in csv.reader(text.splitlines()):
        if not fields or not any(field.strip() for field in fields):
            continue
        try:
            row = instrument_row(fields, segment)
        except (UnreadableRow, ValueError, TypeError) as problem:
            yield UnparsableRow(raw=",".join(fields)[:300], reason=str(problem))
            continue
        if row is not None:
            yield row
