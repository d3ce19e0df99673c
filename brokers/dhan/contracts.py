"""Dhan's master contract: the public scrip-master CSV (compact form), read row by row into
our rows in the OpenAlgo symbol format. A row we cannot read, or of a kind OpenAlgo does not
trade, is handed on as UnparsableRow for the loader to count and skip.

The compact CSV's documented columns: SEM_EXM_EXCH_ID (NSE|BSE|MCX), SEM_SEGMENT,
SEM_SMST_SECURITY_ID (the security id every call names), SEM_INSTRUMENT_NAME (EQUITY, INDEX,
FUTIDX, OPTSTK, FUTCUR, FUTCOM, OPTFUT, ...), SM_SYMBOL_NAME, SEM_TRADING_SYMBOL
(``NIFTY-Nov2024-25000-CE``), SEM_CUSTOM_SYMBOL, SEM_LOT_UNITS, SEM_EXPIRY_DATE
(``2024-11-28 14:30:00``), SEM_STRIKE_PRICE, SEM_OPTION_TYPE (CE|PE|XX), SEM_TICK_SIZE (in
paise), SEM_EXPIRY_FLAG (M|W). The trading symbol carries the month only, so the expiry day
always comes from SEM_EXPIRY_DATE: weekly and monthly contracts of one month stay apart."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings

from brokers.base import InstrumentRow, UnparsableRow
from brokers.enums import Exchange
from brokers.symbols import format_future, format_option

from .client import SCRIP_MASTER_URL, download_text

# (SEM_EXM_EXCH_ID, SEM_INSTRUMENT_NAME) -> our exchange.
KINDS: dict[tuple[str, str], Exchange] = {
    ("NSE", "EQUITY"): Exchange.NSE, ("BSE", "EQUITY"): Exchange.BSE,
    ("NSE", "INDEX"): Exchange.NSE_INDEX, ("BSE", "INDEX"): Exchange.BSE_INDEX,
    **{("NSE", kind): Exchange.NFO for kind in ("FUTIDX", "FUTSTK", "OPTIDX", "OPTSTK")},
    **{("BSE", kind): Exchange.BFO for kind in ("FUTIDX", "FUTSTK", "OPTIDX", "OPTSTK")},
    ("NSE", "FUTCUR"): Exchange.CDS, ("NSE", "OPTCUR"): Exchange.CDS,
    ("BSE", "FUTCUR"): Exchange.BCD, ("BSE", "OPTCUR"): Exchange.BCD,
    **{("MCX", kind): Exchange.MCX for kind in ("FUTCOM", "FUTIDX", "OPTFUT", "OPTCOM", "OPTIDX")},
}
BREXCHANGES = {Exchange.NSE: "NSE_EQ", Exchange.BSE: "BSE_EQ", Exchange.NFO: "NSE_FNO", Exchange.BFO: "BSE_FNO",
               Exchange.CDS: "NSE_CURRENCY", Exchange.BCD: "BSE_CURRENCY", Exchange.MCX: "MCX_COMM",
               Exchange.NSE_INDEX: "IDX_I", Exchange.BSE_INDEX: "IDX_I"}
# Dhan's NSE index names, squeezed (upper case, no spaces or hyphens), -> OpenAlgo's.
NSE_INDEX_NAMES = {
    "NIFTY50": "NIFTY", "NIFTYNEXT50": "NIFTYNXT50", "NIFTYMCAP50": "NIFTYMIDCAP50",
    "NIFTYMIDSMALLCAP400": "NIFTYMIDSML400", "NIFTYSMALLCAP100": "NIFTYSMLCAP100",
    "NIFTYSMALLCAP250": "NIFTYSMLCAP250", "NIFTYSMALLCAP50": "NIFTYSMLCAP50",
    "NIFTY100EQUALWEIGHT": "NIFTY100EQLWGT", "NIFTY100LOWVOLATILITY30": "NIFTY100LOWVOL30",
    "NIFTYMID100FREE": "NIFTYMIDCAP100", "NIFTYBANK": "BANKNIFTY", "NIFTYFINSERVICE": "FINNIFTY",
    "NIFTYMIDSELECT": "MIDCPNIFTY",
}
# Dhan's BSE index short names -> OpenAlgo's.
BSE_INDEX_NAMES = {
    "SNSX50": "SENSEX50", "SNXT50": "BSESENSEXNEXT50", "MID150": "BSE150MIDCAPINDEX",
    "LMI250": "BSE250LARGEMIDCAPINDEX", "MSL400": "BSE400MIDSMALLCAPINDEX", "AUTO": "BSEAUTO",
    "BSECG": "BSECAPITALGOODS", "BSECD": "BSECONSUMERDURABLES", "BSEHC": "BSEHEALTHCARE",
    "BSEIT": "BSEINFORMATIONTECHNOLOGY", "CARBON": "BSECARBONEX", "CPSE": "BSECPSE", "DOL100": "BSEDOLLEX100",
    "DOL200": "BSEDOLLEX200", "DOL30": "BSEDOLLEX30", "ENERGY": "BSEENERGY", "BSEFMC": "BSEFASTMOVINGCONSUMERGOODS",
    "FINSER": "BSEFINANCIALSERVICES", "GREENX": "BSEGREENEX", "INFRA": "BSEINDIAINFRASTRUCTUREINDEX",
    "INDSTR": "BSEINDUSTRIALS", "LRGCAP": "BSELARGECAP", "METAL": "BSEMETAL", "MIDCAP": "BSEMIDCAP",
    "MIDSEL": "BSEMIDCAPSELECTINDEX", "OILGAS": "BSEOIL&GAS", "POWER": "BSEPOWER", "REALTY": "BSEREALTY",
    "SMLCAP": "BSESMALLCAP", "SMLSEL": "BSESMALLCAPSELECTINDEX", "SMEIPO": "BSESMEIPO", "TECK": "BSETECK",
    "TELCOM": "BSETELECOM",
}
PAISE = Decimal(100)
FUTURES = frozenset({"FUTIDX", "FUTSTK", "FUTCUR", "FUTCOM"})


class RowProblem(ValueError):
    """Why one CSV row is not an instrument of ours."""


def scrip_master_url() -> str:
    return str(getattr(settings, "DHAN_SCRIP_MASTER_URL", "") or SCRIP_MASTER_URL)


def master_contract() -> Iterator[InstrumentRow | UnparsableRow]:
    """Download the scrip master and read it (the file is public: no session needed)."""
    return read_scrip_master(download_text(scrip_master_url()))


def read_scrip_master(text: str) -> Iterator[InstrumentRow | UnparsableRow]:
    lines = io.StringIO(text)
    header = next(csv.reader(lines), None)
    if not header:
        return
    names = [name.strip() for name in header]
    yield from read_rows(dict(zip(names, values, strict=False)) for values in csv.reader(lines))


def read_rows(rows: Iterable[Mapping[str, str]]) -> Iterator[InstrumentRow | UnparsableRow]:
    for row in rows:
        try:
            yield instrument_row(row)
        except (RowProblem, ValueError, KeyError, InvalidOperation) as problem:
            yield UnparsableRow(raw=",".join(str(value) for value in row.values())[:300], reason=str(problem)
                                or type(problem).__name__)


def _text(row: Mapping[str, str], column: str) -> str:
    value = row.get(column)
    return value.strip() if isinstance(value, str) else ""


def _expiry(text: str) -> date:
    if len(text) < 10:
        raise RowProblem(f"no expiry date ({text!r})")
    return date.fromisoformat(text[:10])


def index_symbol(trading_symbol: str, exchange: Exchange) -> str:
    squeezed = trading_symbol.upper().replace(" ", "").replace("-", "")
    names = NSE_INDEX_NAMES if exchange == Exchange.NSE_INDEX else BSE_INDEX_NAMES
    return names.get(squeezed, squeezed)


def _plain(number: Decimal) -> Decimal:
    """``25000.000`` -> ``25000``, ``0.0500`` -> ``0.05`` (never an exponent)."""
    return Decimal(format(number.normalize(), "f"))


def _base(trading_symbol: str, parts_after: int, fallback: str) -> str:
    """The underlying of ``NIFTY-Nov2024-25000-CE`` (parts_after=3) or ``BAJAJ-AUTO-Dec2024-FUT``
    (parts_after=2): everything before the month, so hyphenated names survive."""
    pieces = trading_symbol.rsplit("-", parts_after)
    if len(pieces) == parts_after + 1 and pieces[0]:
        return pieces[0].upper().replace(" ", "")
    word = fallback.split(" ")[0] if fallback else ""
    if not word:
        raise RowProblem(f"no underlying in {trading_symbol!r}")
    return word.upper()


def instrument_row(row: Mapping[str, str]) -> InstrumentRow:
    exchange_id, kind = _text(row, "SEM_EXM_EXCH_ID").upper(), _text(row, "SEM_INSTRUMENT_NAME").upper()
    exchange = KINDS.get((exchange_id, kind))
    if exchange is None:
        raise RowProblem(f"{exchange_id} {kind or '(no instrument)'} is not traded here")
    token = _text(row, "SEM_SMST_SECURITY_ID")
    trading_symbol = _text(row, "SEM_TRADING_SYMBOL")
    if not token or not trading_symbol:
        raise RowProblem("row without a security id or a trading symbol")
    lot = int(Decimal(_text(row, "SEM_LOT_UNITS") or "1")) or 1
    tick = Decimal(_text(row, "SEM_TICK_SIZE") or "5") / PAISE
    expiry: date | None = None
    strike: Decimal | None = None
    if kind == "EQUITY":
        symbol, name, instrumenttype = trading_symbol.upper(), _text(row, "SM_SYMBOL_NAME") or trading_symbol, "EQ"
    elif kind == "INDEX":
        symbol = index_symbol(trading_symbol, exchange)
        name, instrumenttype = symbol, ""
    else:
        expiry = _expiry(_text(row, "SEM_EXPIRY_DATE"))
        custom = _text(row, "SEM_CUSTOM_SYMBOL")
        instrumenttype = kind
        if kind in FUTURES:
            name = _base(trading_symbol, 2, custom)
            symbol = format_future(name, expiry)
        else:
            option_type = _text(row, "SEM_OPTION_TYPE").upper()
            if option_type not in ("CE", "PE"):
                raise RowProblem(f"option without CE/PE ({option_type!r})")
            strike = Decimal(_text(row, "SEM_STRIKE_PRICE") or "0")
            name = _base(trading_symbol, 3, custom)
            symbol = format_option(name, expiry, strike, option_type)
            strike = _plain(strike)
    return InstrumentRow(symbol=symbol, brsymbol=trading_symbol, name=name, exchange=exchange,
                         brexchange=BREXCHANGES[exchange], token=token, expiry=expiry, strike=strike, lotsize=lot,
                         instrumenttype=instrumenttype, tick_size=_plain(tick) if tick else Decimal("0.05"))
