"""The sandbox's master contract: the bundled universe (cash, indices) plus futures and
option chains for the next expiries under each exchange's current rules. Loading is
idempotent and only adds what is missing, so running it daily rolls chains forward
while expired rows stay for the positions that still refer to them."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import TypedDict, Unpack

from django.db import transaction

from brokers.base import InstrumentRow
from brokers.enums import Exchange, OptionType
from brokers.freeze import applied, published
from brokers.models import Instrument
from brokers.sandbox import clock, expiries
from brokers.sandbox.listing import Underlying, underlyings
from brokers.selectors import lookup_cache
from brokers.symbols import format_future, format_option

log = logging.getLogger(__name__)

BROKER = "sandbox"
OPTION_EXPIRIES = {"NIFTY": 5, "SENSEX": 5}  # weekly chains; others list their next monthlies
DEFAULT_OPTION_EXPIRIES = 3
FUTURE_EXPIRIES = 3

_TYPES = {  # (is index, kind) -> instrument type, by derivative exchange family
    ("index", "FUT"): "FUTIDX", ("index", "OPT"): "OPTIDX",
    ("stock", "FUT"): "FUTSTK", ("stock", "OPT"): "OPTSTK",
    ("MCX", "FUT"): "FUTCOM", ("MCX", "OPT"): "OPTFUT",
    ("CDS", "FUT"): "FUTCUR", ("CDS", "OPT"): "OPTCUR",
}


def _token(exchange: str, symbol: str) -> str:
    return str(int.from_bytes(hashlib.blake2b(f"{exchange}:{symbol}".encode(), digest_size=4).digest(), "big"))


class _RowFields(TypedDict, total=False):
    """The fields of an ``InstrumentRow`` that ``_row`` fills in, or takes from its caller."""

    brsymbol: str
    brexchange: str
    token: str
    expiry: date | None
    strike: Decimal | None
    lotsize: int
    instrumenttype: str
    tick_size: Decimal
    freeze_qty: int


class _LotFields(TypedDict):
    """What every derivative row of one underlying shares."""

    lotsize: int
    tick_size: Decimal
    freeze_qty: int


def _row(symbol: str, exchange: str, name: str, **fields: Unpack[_RowFields]) -> InstrumentRow:
    values: _RowFields = {"brsymbol": symbol, "brexchange": exchange, "token": _token(exchange, symbol), "expiry": None,
              "strike": None, "lotsize": 1, "instrumenttype": "", "tick_size": Decimal("0.05"), "freeze_qty": 1}
    values.update(fields)
    return InstrumentRow(symbol=symbol, name=name, exchange=Exchange(exchange), **values)


def _family(base: Underlying) -> str:
    spec = base.derivatives
    assert spec is not None  # only asked of an underlying with derivatives
    if spec.exchange in (Exchange.MCX, "MCX"):
        return "MCX"
    if spec.exchange in (Exchange.CDS, "CDS"):
        return "CDS"
    return "index" if Exchange(base.exchange).is_index else "stock"


def _strikes(centre: Decimal, step: Decimal, each_side: int) -> list[Decimal]:
    atm = (centre / step).quantize(Decimal(1)) * step
    return [atm + step * offset for offset in range(-each_side, each_side + 1) if atm + step * offset > 0]


def sandbox_instruments(today: date) -> Iterator[InstrumentRow]:
    """Every row the sandbox lists on ``today``."""
    for base in underlyings():
        exchange = str(base.exchange)
        if exchange in (Exchange.NSE, Exchange.BSE, Exchange.NSE_INDEX, Exchange.BSE_INDEX):
            yield _row(base.symbol, exchange, base.name if not Exchange(exchange).is_index else base.symbol,
                       tick_size=base.tick_size, instrumenttype="" if Exchange(exchange).is_index else "EQ")
        spec = base.derivatives
        if spec is None:
            continue
        derivative = str(spec.exchange)
        family = _family(base)
        freeze = applied(derivative, base.symbol, spec.freeze_qty, derivative=True)
        common: _LotFields = {"lotsize": spec.lot_size, "tick_size": spec.tick_size, "freeze_qty": freeze}
        if spec.futures:
            for expiry in expiries.future_expiries(base.symbol, derivative, today, FUTURE_EXPIRIES):
                yield _row(format_future(base.symbol, expiry), derivative, base.symbol, expiry=expiry,
                           instrumenttype=_TYPES[(family, "FUT")], **common)
        if spec.options:
            count = OPTION_EXPIRIES.get(base.symbol, DEFAULT_OPTION_EXPIRIES)
            strikes = _strikes(base.ref_price, spec.strike_step, spec.strikes_each_side)
            for expiry in expiries.option_expiries(base.symbol, derivative, today, count):
                for strike in strikes:
                    for option_type in (OptionType.CE, OptionType.PE):
                        yield _row(format_option(base.symbol, expiry, strike, option_type), derivative,
                                   base.symbol, expiry=expiry, strike=strike,
                                   instrumenttype=_TYPES[(family, "OPT")], **common)


def _underlying_exchange(row: InstrumentRow, spots: dict[str, str]) -> str:
    return spots.get(row.name, "") if row.expiry else ""


def load_sandbox_universe(today: date | None = None) -> int:
    """Add the sandbox's missing instruments for ``today``; returns how many were added."""
    today = today or clock.session_date(clock.now())
    spots = {b.symbol: str(b.exchange) for b in underlyings()
             if str(b.exchange) in (Exchange.NSE, Exchange.NSE_INDEX, Exchange.BSE_INDEX, Exchange.MCX,
                                    Exchange.CDS)}
    # An underlying listed on NSE and BSE is quoted on NSE; BSE-only indices on BSE_INDEX.
    existing = set(Instrument.objects.filter(broker=BROKER).values_list("exchange", "symbol"))
    new = []
    for row in sandbox_instruments(today):
        if (str(row.exchange), row.symbol) in existing:
            continue
        existing.add((str(row.exchange), row.symbol))
        new.append(Instrument(
            broker=BROKER, symbol=row.symbol, exchange=str(row.exchange), brsymbol=row.brsymbol,
            brexchange=row.brexchange, token=row.token, name=row.name, expiry=row.expiry, strike=row.strike,
            option_type=row.symbol[-2:] if row.strike is not None else "", lotsize=row.lotsize,
            tick_size=row.tick_size, instrumenttype=row.instrumenttype, freeze_qty=row.freeze_qty,
            underlying_exchange=_underlying_exchange(row, spots),
        ))
    with transaction.atomic():
        Instrument.objects.bulk_create(new, batch_size=2000)
        # Rows listed before the freeze quantities were known (or revised) take today's.
        for (exchange, underlying), freeze in published().items():
            Instrument.objects.filter(broker=BROKER, exchange=exchange, name=underlying).exclude(
                freeze_qty=freeze).update(freeze_qty=freeze)
    lookup_cache.clear()
    log.info("Sandbox master contract: %d instruments added for %s", len(new), today)
    return len(new)
