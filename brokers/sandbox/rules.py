"""The paper exchange's rules: who may trade what (pre-trade checks with the spec's
messages, §2.9), when an order fills and at what price, and the order id format."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from brokers.base import BrokerRejected, Quote
from brokers.enums import CASH_EXCHANGES, Action, Exchange, OrderStatus, PriceType, Product
from brokers.sandbox import clock
from brokers.selectors import InstrumentInfo, find_instrument
from core.values import ZERO

BROKER = "sandbox"
RESTING = (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING)


class SandboxRejection(BrokerRejected):
    """A pre-trade rejection with the spec's wording."""


def new_order_id(at: datetime) -> str:
    """Spec §2.9: 14 digits, the IST date as YYMMDD then 8 digits."""
    return at.astimezone(clock.IST).strftime("%y%m%d") + f"{secrets.randbelow(10**8):08d}"


def instrument_for(symbol: str, exchange: str) -> InstrumentInfo:
    info = find_instrument(broker=BROKER, exchange=exchange, symbol=symbol)
    if info is None:
        raise SandboxRejection(f"Symbol {symbol} not found on {exchange}")
    return info


def check_order_shape(info: InstrumentInfo, *, exchange: str, product: str, pricetype: str,
                      quantity: Decimal, price: Decimal, trigger_price: Decimal) -> None:
    """Every rule that needs no price and no account (spec §2.9 rejections)."""
    if Exchange(exchange).is_index:
        raise SandboxRejection(f"{exchange} instruments are indices and cannot be traded")
    if exchange in CASH_EXCHANGES and product == Product.NRML:
        raise SandboxRejection(f"NRML product is not allowed on {exchange}. Use CNC or MIS for equity")
    if exchange not in CASH_EXCHANGES and product == Product.CNC:
        raise SandboxRejection(f"CNC product is not allowed on {exchange}. Use NRML or MIS for derivatives")
    if info.lotsize > 1 and quantity % info.lotsize:
        raise SandboxRejection(f"Quantity must be in multiples of lot size {info.lotsize}")
    if pricetype in (PriceType.LIMIT, PriceType.SL) and price <= 0:
        raise SandboxRejection(f"Price must be greater than 0 for {pricetype} orders")
    if pricetype in (PriceType.SL, PriceType.SL_M) and trigger_price <= 0:
        raise SandboxRejection(f"Trigger price must be greater than 0 for {pricetype} orders")
    for label, value in (("Price", price), ("Trigger price", trigger_price)):
        if value and pricetype != PriceType.MARKET and value % info.tick_size:
            raise SandboxRejection(f"{label} {value.normalize():f} is not a multiple of the tick size "
                                   f"{info.tick_size.normalize():f}")


def check_trigger_side(action: str, pricetype: str, price: Decimal, trigger_price: Decimal) -> None:
    if pricetype != PriceType.SL:
        return
    if action == Action.BUY and trigger_price > price:
        raise SandboxRejection("For a BUY stop-loss order the trigger price must not be above the limit price")
    if action == Action.SELL and trigger_price < price:
        raise SandboxRejection("For a SELL stop-loss order the trigger price must not be below the limit price")


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to an order now: fill at ``price``, or rest with ``status``."""

    fill_price: Decimal | None
    status: OrderStatus


def decide(action: str, pricetype: str, price: Decimal, trigger: Decimal, quote: Quote,
           triggered: bool = False) -> Decision:
    """The spec's fill rules, at placement (§2.9) and on every later price."""
    ltp = quote.ltp
    buy = action == Action.BUY
    if pricetype == PriceType.MARKET:
        best = (quote.ask if buy else quote.bid) or ltp
        return Decision(best, OrderStatus.COMPLETE)
    if pricetype in (PriceType.SL, PriceType.SL_M) and not triggered:
        crossed = ltp >= trigger if buy else ltp <= trigger
        if not crossed:
            return Decision(None, OrderStatus.TRIGGER_PENDING)
        if pricetype == PriceType.SL_M:
            return Decision(ltp, OrderStatus.COMPLETE)
    marketable = ltp <= price if buy else ltp >= price
    if marketable:
        return Decision(ltp, OrderStatus.COMPLETE)
    return Decision(None, OrderStatus.OPEN)


def reference_price(pricetype: str, price: Decimal, trigger: Decimal, quote: Quote | None) -> Decimal:
    """The price margin is blocked at: the limit, the trigger, or the market for MARKET orders."""
    if pricetype in (PriceType.LIMIT, PriceType.SL):
        return price
    if pricetype == PriceType.SL_M:
        return trigger
    return quote.ltp if quote else ZERO
