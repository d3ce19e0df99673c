"""Good-till-triggered orders on the broker contract: the request, the trigger as a broker
reports it, the rules every GTT obeys, and the protocol of an adapter that offers them.

An adapter offers ``GttAdapter``'s methods only when its ``capabilities.gtt`` is True;
callers read that flag through ``gtt_adapter`` (CapabilityMissing, 501, otherwise) and
never probe for the methods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, cast, runtime_checkable

from brokers.base import BrokerAdapter, BrokerError, CapabilityMissing
from brokers.enums import Action, Exchange, PriceType, Product


class GttType(StrEnum):
    SINGLE = "SINGLE"  # one trigger, one order
    OCO = "OCO"  # two triggers around the price: the one hit places its leg, the other is cancelled


class GttStatus(StrEnum):
    ACTIVE = "active"
    TRIGGERED = "triggered"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"  # it fired, but the exchange refused the order it placed


# What a trigger type is called in a GTT book (spec §5.9).
BOOK_TYPE = {GttType.SINGLE: "single", GttType.OCO: "two-leg"}

GTT_PRODUCTS = (Product.CNC, Product.NRML)
GTT_PRICETYPES = (PriceType.LIMIT, PriceType.MARKET)
PRODUCT_ONLY_CNC_NRML = "GTT supports only CNC (delivery) or NRML (overnight F&O); MIS is intraday-only."
SINGLE_NEEDS_TRIGGER = "SINGLE GTT requires a positive triggerprice_sl or triggerprice_tg."
SINGLE_TAKES_ONE = "SINGLE GTT takes exactly one of triggerprice_sl or triggerprice_tg; set the other to 0."
OCO_REQUIRED = {
    "triggerprice_sl": "Required for OCO (stoploss trigger).",
    "stoploss": "Required for OCO (stoploss leg limit).",
    "triggerprice_tg": "Required for OCO (target trigger).",
    "target": "Required for OCO (target leg limit).",
}
OCO_ORDER = "Stoploss trigger must be less than target trigger (triggerprice_tg)."
NO_LAST_PRICE = "Failed to fetch last_price from broker quotes"
# The order a fired trigger places carries this tag and the trigger id, so the ledger can
# take it in as the GTT's order when the broker reports it.
FIRED_ORDER_TAG = "gtt"


def fired_order_tag(trigger_id: str) -> str:
    return f"{FIRED_ORDER_TAG}{trigger_id}"


@dataclass(frozen=True, slots=True)
class GttRequest:
    """A GTT as the trader asked for it (spec §5.9), already validated.

    SINGLE: ``triggerprice_sl`` is a trigger below the last price, ``triggerprice_tg`` one
    above it; exactly one is positive, and ``price`` is the order's limit. OCO: the stop-loss
    leg (``triggerprice_sl``, limit ``stoploss``) below the target leg (``triggerprice_tg``,
    limit ``target``); ``price`` is unused. Both legs share action, quantity and product."""

    trigger_type: GttType
    symbol: str
    exchange: Exchange
    action: Action
    product: Product
    quantity: Decimal
    pricetype: PriceType = PriceType.LIMIT
    price: Decimal = Decimal(0)
    triggerprice_sl: Decimal = Decimal(0)
    triggerprice_tg: Decimal = Decimal(0)
    stoploss: Decimal | None = None
    target: Decimal | None = None
    expires_at: datetime | None = None
    strategy: str = ""

    @property
    def trigger_prices(self) -> tuple[Decimal, ...]:
        """Ascending, as a GTT book shows them: SINGLE has one, OCO the stop-loss then the target."""
        if self.trigger_type == GttType.OCO:
            return (self.triggerprice_sl, self.triggerprice_tg)
        return (self.triggerprice_sl or self.triggerprice_tg,)


@dataclass(frozen=True, slots=True)
class GttLeg:
    """The order a trigger places when it fires."""

    action: Action
    quantity: Decimal
    price: Decimal
    pricetype: PriceType
    product: Product


@dataclass(frozen=True, slots=True)
class GttTrigger:
    """One trigger in a broker's GTT book. ``trigger_type`` is the book's word ("single" or
    "two-leg"); ``trigger_prices`` ascend and pair with ``legs``."""

    trigger_id: str
    trigger_type: str
    status: GttStatus
    symbol: str
    exchange: Exchange
    trigger_prices: tuple[Decimal, ...]
    last_price: Decimal
    legs: tuple[GttLeg, ...]
    created_at: datetime
    updated_at: datetime | None = None
    expires_at: datetime | None = None


class GttTriggerNotFound(BrokerError):
    http_status = 404


class GttPriceUnavailable(BrokerError):
    """The last price a GTT is anchored to could not be read (spec §2.6: 502)."""

    http_status = 502

    def __init__(self, message: str = NO_LAST_PRICE, *, orderid: str = "") -> None:
        super().__init__(message, orderid=orderid)


@runtime_checkable
class GttAdapter(Protocol):
    """What an adapter whose ``capabilities.gtt`` is True offers besides ``BrokerAdapter``."""

    name: str

    def place_gtt(self, request: GttRequest) -> str:
        """Create a trigger; returns its id. The adapter reads the last price itself."""
        ...

    def modify_gtt(self, trigger_id: str, request: GttRequest) -> str:
        """Replace an active trigger whole (not a patch); its type cannot change."""
        ...

    def cancel_gtt(self, trigger_id: str) -> str: ...

    def gtt_book(self) -> list[GttTrigger]:
        """The active triggers only."""
        ...


def gtt_adapter(adapter: BrokerAdapter) -> GttAdapter:
    """``adapter`` as a GttAdapter, if its capabilities say it is one."""
    if not adapter.capabilities.gtt:
        raise CapabilityMissing(f"GTT orders are not supported for broker '{adapter.name}' yet")
    return cast(GttAdapter, adapter)


def rule_errors(trigger_type: str, *, triggerprice_sl: Decimal, triggerprice_tg: Decimal,
                stoploss: Decimal | None, target: Decimal | None) -> dict[str, list[str]]:
    """The trigger rules of spec §5.9 as field errors (empty when the GTT is well formed).
    One place for them: the API's validation and every adapter's own check use it."""
    if trigger_type == GttType.OCO:
        values = {"triggerprice_sl": triggerprice_sl, "stoploss": stoploss,
                  "triggerprice_tg": triggerprice_tg, "target": target}
        for name, value in values.items():
            if value is None or value <= 0:
                return {name: [OCO_REQUIRED[name]]}
        if triggerprice_sl >= triggerprice_tg:
            return {"triggerprice_sl": [OCO_ORDER]}
        return {}
    if triggerprice_sl <= 0 and triggerprice_tg <= 0:
        return {"triggerprice_sl": [SINGLE_NEEDS_TRIGGER]}
    if triggerprice_sl > 0 and triggerprice_tg > 0:
        # Two triggers on a SINGLE is ambiguous: which one places the order is a guess we refuse.
        return {"triggerprice_sl": [SINGLE_TAKES_ONE]}
    return {}
