"""Exchange freeze quantities at the order edge: an order above its instrument's freeze
quantity would be rejected by the exchange, so it is refused here before the ledger or the
broker sees it, with the figures the trader needs, unless the broker slices it itself
within the 2026 cap of 10 slices. A split whose slices are above it is refused before its
first child, never half placed."""

from __future__ import annotations

from brokers.base import AUTOSLICE_CAP, BrokerAdapter, BrokerError, OrderRequest
from brokers.freeze import order_limit
from brokers.selectors import find_instrument


class AboveFreezeQuantity(BrokerError):
    http_status = 400


def _limit(adapter: BrokerAdapter, request: OrderRequest) -> tuple[int, int]:
    info = find_instrument(broker=adapter.name, exchange=str(request.exchange), symbol=request.symbol)
    if info is None:
        return 0, 0
    return order_limit(info.freeze_qty, info.lotsize), info.freeze_qty


def check_order(adapter: BrokerAdapter, request: OrderRequest) -> None:
    limit, freeze = _limit(adapter, request)
    if not limit or request.quantity <= limit:
        return
    slices = -(-int(request.quantity) // limit)  # int: Decimal // truncates toward zero
    if adapter.capabilities.autoslice and slices <= AUTOSLICE_CAP:
        return
    raise AboveFreezeQuantity(
        f"Quantity {request.quantity} is above the exchange freeze quantity of {freeze} for {request.symbol}: "
        f"send at most {limit} per order, or use splitorder with splitsize {limit}")


def check_split(adapter: BrokerAdapter, request: OrderRequest, splitsize: int) -> None:
    limit, freeze = _limit(adapter, request)
    if limit and splitsize > limit:
        raise AboveFreezeQuantity(
            f"Split size {splitsize} is above the exchange freeze quantity of {freeze} for {request.symbol}: "
            f"use a split size of at most {limit}")


__all__ = ["AboveFreezeQuantity", "check_order", "check_split"]
