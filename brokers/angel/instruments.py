"""Angel One's scrip master (OpenAPIScripMaster.json) rows -> our master-contract rows,
with the OpenAlgo symbol built per instrument kind. Pure: tested on real rows alone.

- Cash (NSE/BSE, no instrument type): the symbol without its series suffix (SBIN-EQ -> SBIN).
- Indices (AMXIDX on NSE/BSE/MCX): the name, upper case, without spaces or hyphens, with
  the exchanges' own names mapped to OpenAlgo's (Nifty 50 -> NIFTY, Nifty Bank -> BANKNIFTY).
- Futures and options on every derivative exchange: rebuilt from name, expiry and strike
  as <BASE><DDMMMYY>FUT or <BASE><DDMMMYY><STRIKE><CE|PE>. Angel writes NFO symbols that
  way already; its BFO, MCX and CDS symbols differ (CRUDEOIL25NOV5000CE expires 17NOV25).
  Strikes are in paise (x100), currency options' in 10^-7 rupees."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from brokers.base import InstrumentRow
from brokers.enums import Exchange
from brokers.symbols import format_future, format_option

from .schemas import ScripRow

INDEX = "AMXIDX"
FUTURES = frozenset({"FUTIDX", "FUTSTK", "FUTCOM", "FUTCUR", "FUTIRC", "FUTIRT", "FUTENR", "FUTBAS", "FUTBLN"})
OPTIONS = frozenset({"OPTIDX", "OPTSTK", "OPTFUT", "OPTCUR", "OPTIRC", "OPTCOM", "OPTBLN"})
CURRENCY_OPTIONS = frozenset({"OPTCUR", "OPTIRC"})
# Exchange segments of the dump we list (NCDEX is there too; the platform does not route it).
SEGMENTS = {"NSE": Exchange.NSE, "BSE": Exchange.BSE, "NFO": Exchange.NFO, "BFO": Exchange.BFO,
            "CDS": Exchange.CDS, "MCX": Exchange.MCX}
UNROUTED = frozenset({"NCDEX", "NCO"})
INDEX_EXCHANGES = {"NSE": Exchange.NSE_INDEX, "BSE": Exchange.BSE_INDEX, "MCX": Exchange.MCX_INDEX}
# The exchanges' index names (spaces and hyphens removed) -> OpenAlgo's.
INDEX_NAMES = {"NIFTY50": "NIFTY", "NIFTYBANK": "BANKNIFTY", "NIFTYFINSERVICE": "FINNIFTY",
               "NIFTYNEXT50": "NIFTYNXT50", "NIFTYMIDSELECT": "MIDCPNIFTY", "NIFTYMIDCAPSELECT": "MIDCPNIFTY",
               "SNSX50": "SENSEX50"}
# Series suffixes of cash rows: the -EQ row is the one we trade; others (-BE, -SM...) come after.
SERIES = ("EQ", "BE", "BZ", "BL", "SM", "ST", "MF", "SG")
PAISE = Decimal(100)
CURRENCY_STRIKE = Decimal(10) ** 7


class UnreadableRow(ValueError):
    """A scrip-master row that does not read as one of the documented kinds."""


def _decimal(value: object, what: str) -> Decimal:
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise UnreadableRow(f"{what} is not a number: {value!r}") from None


@lru_cache(maxsize=4096)
def expiry_of(text: str) -> date:
    """``28NOV2024`` -> 2024-11-28 (a dump has a few hundred distinct expiries: cached)."""
    try:
        return datetime.strptime(text.strip().upper(), "%d%b%Y").date()
    except ValueError:
        raise UnreadableRow(f"expiry {text!r} is not DDMMMYYYY") from None


def index_symbol(name: str, segment: str) -> str:
    text = name.upper()
    if segment == "BSE":
        text = text.removeprefix("S&P ")
    text = text.replace(" ", "").replace("-", "")
    return INDEX_NAMES.get(text, text)


def cash_symbol(brsymbol: str) -> str:
    head, sep, tail = brsymbol.rpartition("-")
    return head if sep and head and tail in SERIES else brsymbol


def is_preferred_cash(row: ScripRow) -> bool:
    """A cash row whose symbol is what we trade first: the -EQ series, or no suffix at all."""
    symbol = str(row.get("symbol", ""))
    return not symbol.endswith(tuple(f"-{series}" for series in SERIES if series != "EQ"))


def strike_of(row: ScripRow, kind: str) -> Decimal:
    raw = _decimal(row.get("strike", ""), "strike")
    strike = raw / CURRENCY_STRIKE if kind in CURRENCY_OPTIONS else raw / PAISE
    if strike <= 0:
        raise UnreadableRow(f"option without a strike: {row.get('strike')!r}")
    return strike.normalize()


def instrument_row(row: ScripRow) -> InstrumentRow:
    """One scrip-master row as our row; UnreadableRow when it is not one we can read."""
    segment = str(row.get("exch_seg", "")).upper()
    kind = str(row.get("instrumenttype", "")).strip().upper()
    brsymbol = str(row.get("symbol", "")).strip()
    name = str(row.get("name", "")).strip()
    token = str(row.get("token", "")).strip()
    if not brsymbol or not token:
        raise UnreadableRow("row without a symbol or a token")
    tick = _decimal(row.get("tick_size") or "0", "tick_size") / PAISE
    lotsize = int(_decimal(row.get("lotsize") or "1", "lotsize")) or 1
    expiry: date | None = None
    strike: Decimal | None = None
    if kind == INDEX:
        exchange = INDEX_EXCHANGES.get(segment)
        if exchange is None:
            raise UnreadableRow(f"index on segment {segment!r}")
        symbol = index_symbol(name or brsymbol, segment)
        name = symbol
    else:
        exchange = SEGMENTS.get(segment)
        if exchange is None:
            raise UnreadableRow(f"segment {segment!r} is not one we trade")
        if kind in FUTURES or kind in OPTIONS:
            if not name:
                raise UnreadableRow("derivative without a name")
            expiry = expiry_of(str(row.get("expiry", "")))
            if kind in OPTIONS:
                option_type = brsymbol[-2:]
                if option_type not in ("CE", "PE"):
                    raise UnreadableRow(f"option {brsymbol!r} is neither CE nor PE")
                strike = strike_of(row, kind)
                symbol = format_option(name, expiry, strike, option_type)
            else:
                symbol = format_future(name, expiry)
        elif exchange in (Exchange.NSE, Exchange.BSE):
            symbol = cash_symbol(brsymbol)
        else:
            raise UnreadableRow(f"instrument type {kind!r} on {segment}")
    try:
        return InstrumentRow(symbol=symbol, brsymbol=brsymbol, name=name, exchange=exchange, brexchange=segment,
                             token=token, expiry=expiry, strike=strike, lotsize=lotsize,
                             instrumenttype=kind or ("" if exchange.is_index else "EQ"),
                             tick_size=tick if tick > 0 else Decimal("0.05"))
    except (TypeError, ValueError) as problem:
        raise UnreadableRow(str(problem)) from None
