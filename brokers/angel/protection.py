"""Market protection (SEBI's retail-algo rules as Angel One applies them from 2026-04-01).

Angel converts every market order into a limit order at its market-price-protection (MPP)
buffer, and its Feb-2026 notice says market orders are prohibited for algorithmic trading.
SmartAPI has no protection field, so we send what Angel would make of the order ourselves:
a LIMIT at the last price moved by Angel's published buffer (a STOPLOSS_LIMIT at the trigger
moved by it, for SL-M), on the tick grid, inside the band. Buffers, by instrument:

- cash 0.5%; index futures 0.5%; stock futures 1%; commodity futures 1%;
- index options (and commodity options) 20 / 10 / 5 / 2.5% for premiums under 10, 10-20,
  20-50, above 50; stock options 40 / 20 / 10 / 5% on the same premium bands.
Currency contracts are not in Angel's table: their futures take the index-future buffer and
their options the index-option bands (documented assumption, see the package README)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from brokers.enums import Action, PriceType

HALF = Decimal("0.005")
ONE = Decimal("0.01")
# (premium strictly below, buffer); the last band is open.
INDEX_OPTION_BANDS = ((Decimal(10), Decimal("0.20")), (Decimal(20), Decimal("0.10")), (Decimal(50), Decimal("0.05")),
                      (None, Decimal("0.025")))
STOCK_OPTION_BANDS = ((Decimal(10), Decimal("0.40")), (Decimal(20), Decimal("0.20")), (Decimal(50), Decimal("0.10")),
                      (None, Decimal("0.05")))
FUTURE_BUFFERS = {"FUTIDX": HALF, "FUTSTK": ONE, "FUTCOM": ONE, "FUTCUR": HALF, "FUTIRC": HALF}
STOCK_OPTIONS = frozenset({"OPTSTK"})
# What each protected type becomes at the broker.
PROTECTED = {PriceType.MARKET: PriceType.LIMIT, PriceType.SL_M: PriceType.SL}


def buffer(instrumenttype: str, price: Decimal) -> Decimal:
    """Angel's MPP buffer (a fraction) for an instrument of ``instrumenttype`` near ``price``."""
    kind = instrumenttype.upper()
    if kind.startswith("OPT"):
        bands = STOCK_OPTION_BANDS if kind in STOCK_OPTIONS else INDEX_OPTION_BANDS
        for below, fraction in bands:
            if below is None or price < below:
                return fraction
    return FUTURE_BUFFERS.get(kind, HALF)  # cash, and any future not listed


def protected_price(action: Action, reference: Decimal, instrumenttype: str, tick_size: Decimal) -> Decimal:
    """The limit price of a protected market order: ``reference`` (the last price, or the
    trigger of an SL-M) moved by the buffer against us, rounded onto the tick grid towards
    the reference so the price never leaves the band. Never below one tick."""
    if reference <= 0:
        raise ValueError("market protection needs a positive reference price")
    tick = tick_size if tick_size > 0 else Decimal("0.05")
    fraction = buffer(instrumenttype, reference)
    if action == Action.BUY:
        target = reference * (1 + fraction)
        steps = (target / tick).to_integral_value(rounding=ROUND_FLOOR)
        price = max(steps * tick, (reference / tick).to_integral_value(rounding=ROUND_CEILING) * tick)
    else:
        target = reference * (1 - fraction)
        steps = (target / tick).to_integral_value(rounding=ROUND_CEILING)
        price = min(steps * tick, (reference / tick).to_integral_value(rounding=ROUND_FLOOR) * tick)
    return max(price, tick).normalize()
