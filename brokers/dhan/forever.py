"""Dhan's Forever Orders as the contract's GTT (brokers/gtt.py): SINGLE (one trigger, one
order) and OCO (a stop-loss leg and a target leg; the one hit places its order, the other
is cancelled).

Dhan's shapes: ``POST /forever/orders`` with ``orderFlag`` SINGLE|OCO, the first leg in
``price``/``triggerPrice``/``quantity`` and an OCO's target leg in ``price1``/``triggerPrice1``
/``quantity1``; ``PUT /forever/orders/{id}`` changes ONE leg, named by ``legName``
(ENTRY_LEG, STOP_LOSS_LEG or TARGET_LEG); ``DELETE /forever/orders/{id}``; the book
``GET /forever/orders`` (Dhan's docs also name ``/forever/all``; its own SDK and OpenAlgo use
``/forever/orders``) lists one row per leg, with the SINGLE/OCO flag in ``orderType``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from brokers.base import BrokerError, BrokerRejected, BrokerUnavailable
from brokers.enums import Action, PriceType, Product
from brokers.gtt import (
    BOOK_TYPE,
    GTT_PRICETYPES,
    GTT_PRODUCTS,
    PRODUCT_ONLY_CNC_NRML,
    GttLeg,
    GttRequest,
    GttStatus,
    GttTrigger,
    GttTriggerNotFound,
    GttType,
    rule_errors,
)

from . import mapping
from .schemas import ForeverBody, ForeverModifyBody
from .session import DhanSession

BOOK = "/forever/orders"
ACTIVE = frozenset({"TRANSIT", "PENDING", "CONFIRM", "PART_TRADED"})
STATUSES = {"TRANSIT": GttStatus.ACTIVE, "PENDING": GttStatus.ACTIVE, "CONFIRM": GttStatus.ACTIVE,
            "PART_TRADED": GttStatus.ACTIVE, "TRADED": GttStatus.TRIGGERED, "TRIGGERED": GttStatus.TRIGGERED,
            "EXPIRED": GttStatus.EXPIRED, "CANCELLED": GttStatus.CANCELLED, "REJECTED": GttStatus.REJECTED}
STOP_LOSS_LEG, TARGET_LEG, ENTRY_LEG = "STOP_LOSS_LEG", "TARGET_LEG", "ENTRY_LEG"


def _check(request: GttRequest) -> None:
    if request.product not in GTT_PRODUCTS:
        raise BrokerRejected(PRODUCT_ONLY_CNC_NRML)
    if request.pricetype not in GTT_PRICETYPES:
        raise BrokerRejected("GTT orders are LIMIT or MARKET")
    errors = rule_errors(request.trigger_type, triggerprice_sl=request.triggerprice_sl,
                         triggerprice_tg=request.triggerprice_tg, stoploss=request.stoploss, target=request.target)
    if errors:
        field, messages = next(iter(errors.items()))
        raise BrokerRejected(f"{field}: {messages[0]}")


def _limit(request: GttRequest, value: Decimal | None) -> float:
    return 0.0 if request.pricetype == PriceType.MARKET else float(value or 0)


def forever_body(request: GttRequest, *, client_id: str, security_id: str) -> ForeverBody:
    """Dhan's body for a new Forever Order (pure)."""
    oco = request.trigger_type == GttType.OCO
    body: ForeverBody = {
        "dhanClientId": client_id, "orderFlag": "OCO" if oco else "SINGLE",
        "transactionType": mapping.SIDES[request.action], "exchangeSegment": mapping.segment(request.exchange),
        "productType": mapping.PRODUCTS[request.product], "orderType": mapping.ORDER_TYPES[request.pricetype],
        "validity": "DAY", "securityId": security_id, "quantity": int(request.quantity), "disclosedQuantity": 0,
        "price": _limit(request, request.stoploss if oco else request.price),
        "triggerPrice": float(request.triggerprice_sl if oco else request.trigger_prices[0]),
    }
    if oco:
        body["price1"] = _limit(request, request.target)
        body["triggerPrice1"] = float(request.triggerprice_tg)
        body["quantity1"] = int(request.quantity)
    tag = mapping.correlation_id(request.strategy)
    if tag:
        body["correlationId"] = tag
    return body


def forever_modify_body(request: GttRequest, *, client_id: str, trigger_id: str, leg: str) -> ForeverModifyBody:
    """Dhan's body changing one leg of a Forever Order (pure)."""
    if request.trigger_type == GttType.OCO:
        target = leg == TARGET_LEG
        limit = request.target if target else request.stoploss
        trigger = request.triggerprice_tg if target else request.triggerprice_sl
    else:
        limit, trigger = request.price, request.trigger_prices[0]
    return {"dhanClientId": client_id, "orderId": trigger_id, "orderFlag": str(request.trigger_type),
            "orderType": mapping.ORDER_TYPES[request.pricetype], "legName": leg, "quantity": int(request.quantity),
            "price": _limit(request, limit), "disclosedQuantity": 0, "triggerPrice": float(trigger),
            "validity": "DAY"}


def _leg(row: Mapping[str, Any]) -> GttLeg:
    leg_price = mapping.decimal(row.get("price"))
    product = str(row.get("productType", ""))
    return GttLeg(action=Action(str(row.get("transactionType", "")).upper()),
                  quantity=mapping.decimal(row.get("quantity")), price=leg_price,
                  # The book does not say LIMIT or MARKET: a market leg is stored with price 0.
                  pricetype=PriceType.LIMIT if leg_price else PriceType.MARKET,
                  product=mapping.product_of(product) if product else Product.CNC)


def _time(row: Mapping[str, Any], name: str) -> datetime | None:
    try:
        return mapping.first_time(row, name)
    except mapping.UnreadablePayload:
        return None


class ForeverOrders(DhanSession):
    """The GTT half of the Dhan adapter (``capabilities.gtt`` is True)."""

    def place_gtt(self, request: GttRequest) -> str:
        _check(request)
        info = self._instrument(request.symbol, request.exchange)
        data = self.client.post(BOOK, forever_body(request, client_id=self.client.client_id, security_id=info.token))
        trigger_id = str(data.get("orderId") or "") if isinstance(data, dict) else ""
        if not trigger_id:
            raise BrokerUnavailable("Dhan accepted the GTT without an order id")
        return trigger_id

    def modify_gtt(self, trigger_id: str, request: GttRequest) -> str:
        _check(request)
        legs = self._legs(trigger_id)
        oco = len(legs) > 1 or str(legs[0].get("orderType", "")).upper() == "OCO"
        if oco != (request.trigger_type == GttType.OCO):
            raise BrokerRejected("A GTT's trigger type cannot change; cancel it and place a new one")
        names = [STOP_LOSS_LEG, TARGET_LEG] if oco else [str(legs[0].get("legName") or ENTRY_LEG)]
        for leg in names:
            self.client.put(f"{BOOK}/{trigger_id}", forever_modify_body(
                request, client_id=self.client.client_id, trigger_id=trigger_id, leg=leg))
        return trigger_id

    def cancel_gtt(self, trigger_id: str) -> str:
        self._legs(trigger_id)
        data = self.client.delete(f"{BOOK}/{trigger_id}")
        return str(data.get("orderId") or trigger_id) if isinstance(data, dict) else trigger_id

    def _book_rows(self) -> list[Mapping[str, Any]]:
        rows = self.client.get(BOOK)
        if not isinstance(rows, list):
            raise BrokerUnavailable("Dhan answered a Forever Order book that is not a list")
        return [row for row in rows if isinstance(row, dict)]

    def _legs(self, trigger_id: str) -> list[Mapping[str, Any]]:
        """The active legs of one Forever Order, or GttTriggerNotFound."""
        legs = [row for row in self._book_rows() if str(row.get("orderId")) == trigger_id
                and str(row.get("orderStatus", "")).upper() in ACTIVE]
        if not legs:
            raise GttTriggerNotFound(f"GTT {trigger_id} not found or no longer active")
        return legs

    def gtt_book(self) -> list[GttTrigger]:
        grouped: dict[str, list[Mapping[str, Any]]] = {}
        for row in self._book_rows():
            if str(row.get("orderStatus", "")).upper() in ACTIVE and row.get("orderId"):
                grouped.setdefault(str(row["orderId"]), []).append(row)
        try:
            prices = self._last_prices((str(legs[0].get("exchangeSegment")), str(legs[0].get("securityId")))
                                       for legs in grouped.values())
        except BrokerError:
            prices = {}
        triggers = []
        try:
            for trigger_id, legs in grouped.items():
                legs.sort(key=lambda row: mapping.decimal(row.get("triggerPrice")))
                first = legs[0]
                symbol, exchange = self._ours(first)
                oco = len(legs) > 1 or str(first.get("orderType", "")).upper() == "OCO"
                triggers.append(GttTrigger(
                    trigger_id=trigger_id, trigger_type=BOOK_TYPE[GttType.OCO if oco else GttType.SINGLE],
                    status=STATUSES.get(str(first.get("orderStatus", "")).upper(), GttStatus.ACTIVE),
                    symbol=symbol, exchange=exchange,
                    trigger_prices=tuple(mapping.decimal(row.get("triggerPrice")) for row in legs),
                    last_price=prices.get((str(first.get("exchangeSegment")), str(first.get("securityId"))),
                                          Decimal(0)),
                    legs=tuple(_leg(row) for row in legs),
                    created_at=_time(first, "createTime") or datetime.now(UTC),
                    updated_at=_time(first, "updateTime"),
                ))
        except (mapping.UnreadablePayload, ValueError, KeyError) as problem:
            raise BrokerUnavailable(f"Dhan answered an unreadable Forever Order: {problem}") from None
        return triggers
