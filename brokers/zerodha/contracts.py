"""Zerodha's master contract: Kite's instrument dump (``GET /instruments``, CSV, once a day)
read row by row into our rows. Our symbol is rebuilt from the row's columns, never parsed
out of Kite's tradingsymbol (whose weekly form ``NIFTY20D1713600CE`` hides the day):
futures ``<name><DDMMMYY>FUT``, options ``<name><DDMMMYY><strike><CE|PE>``, indices by
their OpenAlgo names, equities unchanged. A row that cannot be read is handed on as
UnparsableRow for the loader to count and skip."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import date
from decimal import Decimal, InvalidOperation

from brokers.base import BrokerUnavailable, InstrumentRow, UnparsableRow
from brokers.enums import Exchange
from brokers.symbols import SymbolFormatError, format_future, format_option

from .client import ZerodhaClient
from .schemas import INSTRUMENT_COLUMNS

# Kite's exchange of a row in segment INDICES -> ours. (CDS has index rows but we have no
# CDS_INDEX exchange: they are skipped as unparsable.)
INDEX_EXCHANGES = {"NSE": Exchange.NSE_INDEX, "BSE": Exchange.BSE_INDEX, "MCX": Exchange.MCX_INDEX,
                   "GLOBAL": Exchange.GLOBAL_INDEX, "NSEIX": Exchange.GLOBAL_INDEX}
TRADABLE = {code: Exchange(code) for code in ("NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX", "NCO")}
# NSE index names with spaces removed -> the names OpenAlgo uses (spec §4.1).
NSE_INDEX_NAMES = {"NIFTY50": "NIFTY", "NIFTYBANK": "BANKNIFTY", "NIFTYFINSERVICE": "FINNIFTY",
                   "NIFTYNEXT50": "NIFTYNXT50", "NIFTYMIDSELECT": "MIDCPNIFTY", "NIFTYMIDCAPSELECT": "MIDCPNIFTY"}
# BSE's short index codes -> OpenAlgo's names; an index not listed is "BSE" + its code.
BSE_INDEX_NAMES = {
    "SENSEX": "SENSEX", "BANKEX": "BANKEX", "SNSX50": "SENSEX50", "SENSEX50": "SENSEX50",
    "SNXT50": "BSESENSEXNEXT50", "MID150": "BSE150MIDCAPINDEX", "LMI250": "BSE250LARGEMIDCAPINDEX",
    "MSL400": "BSE400MIDSMALLCAPINDEX", "AUTO": "BSEAUTO", "BSECG": "BSECAPITALGOODS",
    "BSECD": "BSECONSUMERDURABLES", "BSEHC": "BSEHEALTHCARE", "BSEIT": "BSEINFORMATIONTECHNOLOGY",
    "CARBON": "BSECARBONEX", "CPSE": "BSECPSE", "ENERGY": "BSEENERGY", "FMC": "BSEFASTMOVINGCONSUMERGOODS",
    "FINSER": "BSEFINANCIALSERVICES", "GREENX": "BSEGREENEX", "INFRA": "BSEINDIAINFRASTRUCTUREINDEX",
    "METAL": "BSEMETAL", "MIDCAP": "BSEMIDCAP", "OILGAS": "BSEOIL&GAS", "POWER": "BSEPOWER",
    "REALTY": "BSEREALTY", "SMLCAP": "BSESMALLCAP", "TECK": "BSETECK", "TELCOM": "BSETELECOM",
}
_NOT_NAME = re.compile(r"[^A-Z0-9&]")


class BadRow(ValueError):
    """A dump row this module cannot read: it becomes an UnparsableRow, never fails the load."""


def index_symbol(tradingsymbol: str, exchange: Exchange) -> str:
    """OpenAlgo's name of an index row: ``NIFTY 50`` -> ``NIFTY``, ``INDIA VIX`` -> ``INDIAVIX``."""
    compact = _NOT_NAME.sub("", tradingsymbol.upper())
    if not compact:
        raise BadRow(f"index {tradingsymbol!r} has no usable name")
    if exchange == Exchange.NSE_INDEX:
        return NSE_INDEX_NAMES.get(compact, compact)
    if exchange == Exchange.BSE_INDEX:
        return BSE_INDEX_NAMES.get(compact) or (compact if compact.startswith("BSE") else f"BSE{compact}")
    return compact


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text or "0")
    except InvalidOperation:
        raise BadRow(f"{what} {text!r} is not a number") from None
    if not value.is_finite():
        raise BadRow(f"{what} {text!r} is not a number")
    return value


def instrument_row(row: dict[str, str]) -> InstrumentRow:
    """One CSV row (columns as Kite names them) -> our row; BadRow when it cannot be read."""
    code, segment = row["exchange"], row["segment"]
    brsymbol, kind = row["tradingsymbol"], row["instrument_type"]
    token = row["instrument_token"]
    if not token.isdigit() or not brsymbol:
        raise BadRow("row without an instrument token or a tradingsymbol")
    expiry = date.fromisoformat(row["expiry"]) if row["expiry"] else None
    lotsize = int(_decimal(row["lot_size"], "lot_size")) or 1
    tick_size = _decimal(row["tick_size"], "tick_size")
    name = row["name"].strip()
    strike: Decimal | None = None
    if segment == "INDICES":
        exchange = INDEX_EXCHANGES.get(code)
        if exchange is None:
            raise BadRow(f"no OpenAlgo exchange for {code} indices")
        symbol, kind, name = index_symbol(brsymbol, exchange), "", name or brsymbol
        lotsize = 1
    else:
        tradable = TRADABLE.get(code)
        if tradable is None:
            raise BadRow(f"no OpenAlgo exchange for {code!r}")
        exchange = tradable
        base = _NOT_NAME.sub("", name.upper())
        derivative = kind in ("CE", "PE", "FUT")
        if derivative and (expiry is None or not base):
            raise BadRow(f"derivative {brsymbol} without an expiry or a name")
        if kind in ("CE", "PE"):
            strike = _decimal(row["strike"], "strike")
        if exchange == Exchange.NCO or not derivative or expiry is None:
            # NCO writes month-only symbols that OpenAlgo keeps as the exchange's (spec §4.1);
            # equities keep their tradingsymbol (series suffixes such as -BE are distinct instruments).
            symbol = brsymbol
        elif strike is None:
            symbol = format_future(base, expiry)
        else:
            symbol = format_option(base, expiry, strike, kind)
        name = base or name
    return InstrumentRow(symbol=symbol, brsymbol=brsymbol, name=name, exchange=exchange, brexchange=code,
                         token=token, expiry=expiry, strike=strike, lotsize=lotsize, instrumenttype=kind,
                         tick_size=tick_size)


def rows_of(text: str) -> Iterator[InstrumentRow | UnparsableRow]:
    lines = io.StringIO(text)
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or tuple(column.strip() for column in header) != INSTRUMENT_COLUMNS:
        raise BrokerUnavailable(f"Zerodha's instrument dump has unexpected columns: {header!r}"[:300])
    yield from parse_rows(reader)


def parse_rows(reader: Iterable[list[str]]) -> Iterator[InstrumentRow | UnparsableRow]:
    width = len(INSTRUMENT_COLUMNS)
    for cells in reader:
        if not cells:
            continue
        if len(cells) != width:
            yield UnparsableRow(raw=",".join(cells)[:300], reason=f"{len(cells)} columns, expected {width}")
            continue
        try:
            yield instrument_row(dict(zip(INSTRUMENT_COLUMNS, cells, strict=True)))
        except (BadRow, SymbolFormatError, ValueError) as problem:
            yield UnparsableRow(raw=",".join(cells)[:300], reason=str(problem))


def master_contract(client: ZerodhaClient) -> Iterator[InstrumentRow | UnparsableRow]:
    return rows_of(client.dump("/instruments"))
