"""Option contract resolution (spec §9.0): from an underlying, an expiry and an offset
(ATM, ITMn, OTMn) to the listed option symbol, using the master contract and the
underlying's last price. Errors carry the spec's texts and status codes. Instruments are
brokers' data, so the resolution lives here, below both the options orders and the data
endpoints that use it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from brokers.base import BrokerAdapter, BrokerError
from brokers.enums import Exchange, OptionType
from brokers.models import Instrument
from brokers.selectors import InstrumentInfo, find_instrument
from brokers.symbols import SymbolFormatError, derivative_exchange, format_option, parse_expiry, underlying_exchange

EMBEDDED = re.compile(r"^([A-Z]+)(\d{2}[A-Z]{3}\d{2})(FUT)?$")
OFFSET = re.compile(r"^(ATM|ITM([1-9]|[1-4]\d|50)|OTM([1-9]|[1-4]\d|50))$")
OFFSET_MESSAGE = "Offset must be ATM, ITM1-ITM50, or OTM1-OTM50"
FUTURE_PRICED = {Exchange.MCX, Exchange.CDS, Exchange.BCD, Exchange.NCDEX, Exchange.NCO}


class ResolutionError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Underlying:
    base: str
    expiry_text: str  # DDMMMYY as given
    expiry: date
    quote_symbol: str
    quote_exchange: Exchange
    options_exchange: Exchange
    embedded: bool


def parse_underlying(underlying: str, exchange: Exchange, expiry_date: str | None, *,
                     embedded_wins: bool = False) -> Underlying:
    """Steps 1-4 of §9.0: base, expiry, where to read the price, the options exchange."""
    text = underlying.strip().upper()
    match = EMBEDDED.match(text)
    base, embedded = (match.group(1), match.group(2)) if match else (text, None)
    chosen = (embedded or expiry_date) if embedded_wins else (expiry_date or embedded)
    if not chosen:
        raise ResolutionError("Expiry date required. Provide via expiry_date parameter or embed in underlying "
                              "(e.g., NIFTY28OCT25FUT).", 400)
    try:
        expiry = parse_expiry(chosen)
    except SymbolFormatError:
        raise ResolutionError(f"Invalid expiry date {chosen}. Use DDMMMYY, e.g. 28OCT25.", 400) from None
    options_exchange = derivative_exchange(exchange)
    if exchange in (Exchange.NFO, Exchange.BFO):
        quote_exchange = underlying_exchange(base, exchange)
        quote_symbol = base
    elif embedded and exchange in FUTURE_PRICED:
        quote_exchange, quote_symbol = exchange, text
    elif embedded:
        quote_exchange, quote_symbol = exchange, base
    else:
        quote_exchange, quote_symbol = exchange, text
    return Underlying(base=base, expiry_text=chosen.upper().replace("-", ""), expiry=expiry,
                      quote_symbol=quote_symbol, quote_exchange=quote_exchange, options_exchange=options_exchange,
                      embedded=bool(embedded))


def nearest_future(broker: str, base: str, exchange: Exchange, today: date) -> str | None:
    return (Instrument.objects.filter(broker=broker, exchange=str(exchange), name=base, expiry__gte=today,
                                      option_type="").order_by("expiry").values_list("symbol", flat=True).first())


def underlying_ltp(adapter: BrokerAdapter, u: Underlying, today: date) -> tuple[Decimal, Decimal]:
    """(LTP, previous close) of the price reference, or the spec's 'Failed to fetch LTP'."""
    symbol = u.quote_symbol
    if u.quote_exchange in FUTURE_PRICED and not u.embedded:
        symbol = nearest_future(adapter.name, u.base, u.quote_exchange, today) or symbol
    try:
        quote = adapter.quote(symbol, u.quote_exchange)
    except BrokerError as exc:
        status = 400 if exc.http_status < 500 else 500
        raise ResolutionError(f"Failed to fetch LTP for {symbol}. {exc.message}", status) from None
    return quote.ltp, quote.prev_close


def strikes(broker: str, u: Underlying, option_type: str) -> list[Decimal]:
    rows = Instrument.objects.filter(broker=broker, exchange=str(u.options_exchange), name=u.base,
                                     expiry=u.expiry, option_type=option_type)
    found = sorted({strike for strike in rows.values_list("strike", flat=True) if strike is not None})
    if not found:
        raise ResolutionError(f"No strikes found for {u.base} expiring {u.expiry_text}. Please check expiry date "
                              "or update master contract.", 404)
    return found


def strikes_or_empty(broker: str, u: Underlying, option_type: str) -> list[Decimal]:
    try:
        return strikes(broker, u, option_type)
    except ResolutionError:
        return []


def atm_index(listed: list[Decimal], ltp: Decimal) -> int:
    """The listed strike nearest to the LTP; a tie goes to the lower strike."""
    return min(range(len(listed)), key=lambda i: (abs(listed[i] - ltp), listed[i]))


def offset_steps(offset: str, option_type: str) -> int:
    """Signed positions from ATM: CE ITM is below, PE ITM above."""
    if offset == "ATM":
        return 0
    n = int(offset[3:])
    below = (offset.startswith("ITM")) == (option_type == OptionType.CE)
    return -n if below else n


def resolve(adapter: BrokerAdapter, u: Underlying, offset: str, option_type: str, ltp: Decimal,
            strike_int: int | None = None) -> InstrumentInfo:
    """Steps 5-8: the option contract ``offset`` away from ATM."""
    offset, option_type = offset.upper(), option_type.upper()
    steps = offset_steps(offset, option_type)
    if strike_int:
        atm = (ltp / strike_int).quantize(Decimal(1)) * strike_int
        strike = atm + steps * strike_int
    else:
        listed = strikes(adapter.name, u, option_type)
        position = atm_index(listed, ltp) + steps
        if not 0 <= position < len(listed):
            raise ResolutionError(f"Offset {offset} is out of range for available strikes. Please use a smaller "
                                  "offset.", 400)
        strike = listed[position]
    symbol = format_option(u.base, u.expiry, strike, option_type)
    info = find_instrument(broker=adapter.name, exchange=str(u.options_exchange), symbol=symbol)
    if info is None:
        raise ResolutionError(f"Option symbol {symbol} not found in {u.options_exchange}. Symbol may not exist "
                              "or master contract needs update.", 404)
    return info


def synthetic_future(adapter: BrokerAdapter, u: Underlying, ltp: Decimal) -> tuple[Decimal, Decimal]:
    """§9.7: (ATM strike, ATM strike + ATM call LTP - ATM put LTP)."""
    legs: dict[str, tuple[Decimal, Decimal]] = {}
    for name, option_type in (("Call", "CE"), ("Put", "PE")):
        info = resolve(adapter, u, "ATM", option_type, ltp)
        try:
            legs[name] = (info.strike or Decimal(0), adapter.quote(info.symbol, Exchange(info.exchange)).ltp)
        except BrokerError:
            raise ResolutionError(f"Could not fetch LTP for {name} option: {info.symbol}", 500) from None
    strike = legs["Call"][0]
    return strike, strike + legs["Call"][1] - legs["Put"][1]


def label(position: int, atm: int, option_type: str) -> str:
    """Chain labels: k below ATM is CE ITMk / PE OTMk; above, CE OTMk / PE ITMk."""
    if position == atm:
        return "ATM"
    k = abs(position - atm)
    below = position < atm
    return f"ITM{k}" if below == (option_type == OptionType.CE) else f"OTM{k}"
