"""Order writes: every order goes through ``place_order``, which writes the ledger row
before the broker call and completes it after (design.md), whatever the broker."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import close_old_connections, transaction
from django.utils import timezone

from accounts import audit
from accounts import brokers as broker_routing
from brokers import registry
from brokers.base import (
    BrokerError,
    BrokerRejected,
    BrokerUnavailable,
    ModifyRequest,
    OrderRequest,
    PlacedOrder,
)
from brokers.enums import Action, OrderStatus, PriceType, Product
from core import metrics
from core.api.ratelimit import parse_limits
from core.values import ZERO
from orders import faults, reconcile, risk
from orders.locks import symbol_lock
from orders.models import LedgerStatus, Order, OrderEvent

log = logging.getLogger(__name__)

PLACE_FAILED = "Failed to place order due to internal error"
ALREADY_MATCHED = "Positions Already Matched. No Action needed."
NO_POSITION_TO_EXIT = "No OpenPosition Found. Not placing Exit order."
SPLIT_CAP = 100
BASKET_BATCH = 10


def adapter_for(user):
    """The adapter serving ``user``'s orders and account reads now (the sandbox in analyze mode)."""
    return broker_routing.adapter_for(user, analyze_mode=user.analyze_mode)


def is_sandbox(adapter) -> bool:
    return getattr(adapter, "name", "") == registry.SANDBOX


# --- One order ---------------------------------------------------------------------------------


def _ledger_row(user, adapter, request: OrderRequest, source: str) -> Order:
    order = Order.objects.create(
        user=user, broker=adapter.name, analyze=bool(user.analyze_mode), strategy=request.strategy,
        symbol=request.symbol, exchange=str(request.exchange), action=request.action,
        quantity=request.quantity, product=request.product, pricetype=request.pricetype,
        price=request.price, trigger_price=request.trigger_price, disclosed_quantity=request.disclosed_quantity,
        source=source, owner=reconcile.PROCESS,
    )
    OrderEvent.objects.create(order=order, from_status="", to_status=LedgerStatus.SUBMITTING, source=source)
    return order


def _complete(order: Order, status: str, *, source: str = "broker", **fields) -> None:
    with transaction.atomic():
        event = order.move_to(status, detail={k: str(v) for k, v in fields.items()}, source=source)
        for name, value in fields.items():
            setattr(order, name, value)
        order.save()
        event.save()
    audit.record(f"order_{status.replace(' ', '_')}", actor=order.user.username,
                 subject=f"{order.exchange}:{order.symbol}",
                 detail={"ledger_id": order.pk, "broker": order.broker, "orderid": order.broker_order_id,
                         "action": order.action, "quantity": str(order.quantity), "pricetype": order.pricetype,
                         "product": order.product, "source": source, "strategy": order.strategy})


def ledger_tag(order: Order) -> str:
    """The reference sent with the order (OrderRequest.tag) that finds it again in the broker's book."""
    return f"oa{order.pk}"


def place_order(*, user, request: OrderRequest, source: str = "api", adapter=None) -> PlacedOrder:
    """Send one order: risk checks, ledger row committed, broker call, ledger row completed.
    Raises BrokerError subclasses (RiskRejected among them) for the API layer to map."""
    adapter = adapter or adapter_for(user)
    limits = None if source in risk.EXEMPT_SOURCES else risk.limits_for(user)
    try:
        if limits is not None:
            risk.check_daily_loss(user, adapter, limits)
        with risk.guarded(user, limits):
            if limits is not None:
                risk.check_order(user, adapter, request, limits)
            order = _ledger_row(user, adapter, request, source)
    except risk.RiskRejected as exc:
        risk.record_rejection(user, adapter, request, source, exc)
        raise
    request = replace(request, tag=ledger_tag(order))
    faults.hit("after_ledger")
    started = time.perf_counter()
    try:
        placed = adapter.place_order(request)
        faults.hit("after_broker")
    except BrokerRejected as exc:
        metrics.observe_order(adapter.name, time.perf_counter() - started, "rejected")
        metrics.count_reject("broker_rejected")
        _complete(order, LedgerStatus.REJECTED, message=exc.message, broker_order_id=exc.orderid)
        raise
    except BrokerError as exc:
        # Timeout or outage: the broker may have the order. Never retried; reconciled later.
        metrics.observe_order(adapter.name, time.perf_counter() - started, "unknown")
        _complete(order, LedgerStatus.UNKNOWN, message=exc.message)
        raise
    except Exception as exc:
        metrics.observe_order(adapter.name, time.perf_counter() - started, "error")
        log.exception("Placing order %s failed unexpectedly", order.pk)
        _complete(order, LedgerStatus.UNKNOWN, message=f"{type(exc).__name__}: {exc}")
        raise BrokerUnavailable(PLACE_FAILED) from exc
    metrics.observe_order(adapter.name, time.perf_counter() - started, "success")
    status = LedgerStatus(placed.status.value) if placed.status else LedgerStatus.OPEN
    filled = {"filled_quantity": order.quantity} if status == LedgerStatus.COMPLETE else {}
    _complete(order, status, broker_order_id=placed.orderid, **filled)
    if not is_sandbox(adapter):  # the sandbox announces its own orders (orders/updates.py)
        from orders.updates import ledger_update_payload, publish

        publish(user.pk, ledger_update_payload(order))
    return placed


# --- Smart order -------------------------------------------------------------------------------


def net_quantity(adapter, symbol: str, exchange: str, product: str) -> Decimal:
    for position in adapter.positions():
        if position.symbol == symbol and str(position.exchange) == exchange and str(position.product) == product:
            return position.quantity
    return ZERO


@dataclass(frozen=True, slots=True)
class SmartResult:
    placed: PlacedOrder | None
    message: str = ""


def smart_order_action(action: str, quantity: Decimal, target: Decimal, current: Decimal
                       ) -> tuple[str, Decimal] | None:
    """The spec §5.2 table: what to trade to move from ``current`` to ``target``."""
    if target == 0 and current == 0 and quantity > 0:
        return action, quantity
    if target == current:
        return None
    if target == 0:
        return (Action.SELL, current) if current > 0 else (Action.BUY, -current)
    if current == 0:
        return (Action.BUY, target) if target > 0 else (Action.SELL, -target)
    return (Action.BUY, target - current) if target > current else (Action.SELL, current - target)


def place_smart_order(*, user, request: OrderRequest, position_size: Decimal) -> SmartResult:
    """Serialised per user and (symbol, exchange, product) across processes; the position
    is read fresh inside the lock, so two concurrent calls never double the position."""
    adapter = adapter_for(user)
    with symbol_lock(user.pk, str(request.exchange), request.symbol, str(request.product)):
        current = net_quantity(adapter, request.symbol, str(request.exchange), str(request.product))
        decided = smart_order_action(request.action, request.quantity, position_size, current)
        if decided is None:
            if is_sandbox(adapter) and request.quantity == 0 and position_size == 0 and current == 0:
                return SmartResult(None, NO_POSITION_TO_EXIT)
            return SmartResult(None, ALREADY_MATCHED)
        action, quantity = decided
        order = replace(request, action=Action(action), quantity=quantity)
        return SmartResult(place_order(user=user, request=order, source="smart", adapter=adapter))


# --- Many orders -------------------------------------------------------------------------------


def _one(user, adapter, request: OrderRequest, source: str) -> dict:
    try:
        placed = place_order(user=user, request=request, source=source, adapter=adapter)
    except BrokerError as exc:
        return {"status": "error", "message": exc.message if exc.http_status < 500 else PLACE_FAILED,
                **({"orderid": exc.orderid} if exc.orderid else {})}
    return {"status": "success", "orderid": placed.orderid}


def _in_thread(call: Callable[[], dict]) -> dict:
    try:
        return call()
    finally:
        close_old_connections()


def place_basket(*, user, requests: list[OrderRequest]) -> list[dict]:
    """BUYs before SELLs (margin benefit), request order kept within a side; each order is
    independent. Live brokers get concurrent batches of 10, one second apart."""
    ordered = [r for r in requests if r.action == Action.BUY] + [r for r in requests if r.action == Action.SELL]
    adapter = adapter_for(user)

    def item(request: OrderRequest, outcome: dict) -> dict:
        head = {"symbol": request.symbol, "exchange": str(request.exchange)}
        if outcome["status"] == "success":
            head["product"] = str(request.product)
        return {**head, **outcome}

    if is_sandbox(adapter):
        return [item(r, _one(user, adapter, r, "basket")) for r in ordered]
    results: list[dict] = []
    with ThreadPoolExecutor(max_workers=BASKET_BATCH) as pool:
        for start in range(0, len(ordered), BASKET_BATCH):
            if start:
                time.sleep(1.0)
            batch = ordered[start:start + BASKET_BATCH]
            futures = [pool.submit(_in_thread, lambda r=r: _one(user, adapter, r, "basket")) for r in batch]
            results.extend(item(r, f.result()) for r, f in zip(batch, futures, strict=True))
    return results


def split_sizes(total: int, size: int) -> list[int]:
    sizes = [size] * (total // size)
    if total % size:
        sizes.append(total % size)
    return sizes


def place_split(*, user, request: OrderRequest, splitsize: int) -> list[dict]:
    adapter = adapter_for(user)
    pause = 0.0 if is_sandbox(adapter) else 1.0 / max(1, _order_rate())
    results = []
    for number, size in enumerate(split_sizes(int(request.quantity), splitsize), start=1):
        if number > 1 and pause:
            time.sleep(pause)
        outcome = _one(user, adapter, replace(request, quantity=Decimal(size)), "split")
        results.append({"order_num": number, "quantity": size, **outcome})
    return results


def _order_rate() -> int:
    from django.conf import settings

    first = parse_limits(settings.ORDER_RATE_LIMIT)[0]
    count, unit = first.split("/")
    return int(count) if unit == "s" else 1


# --- Changes to working orders -----------------------------------------------------------------


def _ledger_for(user, adapter, orderid: str) -> Order | None:
    return Order.objects.filter(user=user, broker=adapter.name, broker_order_id=orderid).first()


def modify_order(*, user, request: ModifyRequest) -> PlacedOrder:
    adapter = adapter_for(user)
    limits = risk.limits_for(user)
    if limits is not None:
        risk.check_modify(user, adapter, request, limits)
    placed = adapter.modify_order(request)
    audit.record("order_modified", actor=user.username, subject=f"{request.exchange}:{request.symbol}",
                 detail={"orderid": request.orderid, "quantity": str(request.quantity), "price": str(request.price),
                         "trigger_price": str(request.trigger_price), "pricetype": str(request.pricetype)})
    order = _ledger_for(user, adapter, request.orderid)
    if order is not None:
        with transaction.atomic():
            OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status,
                                      source="modify", detail={"quantity": str(request.quantity),
                                                               "price": str(request.price),
                                                               "trigger_price": str(request.trigger_price),
                                                               "pricetype": str(request.pricetype)})
            Order.objects.filter(pk=order.pk).update(
                quantity=request.quantity, price=request.price, trigger_price=request.trigger_price,
                pricetype=request.pricetype, updated_at=timezone.now())
    return placed


def cancel_order(*, user, orderid: str) -> PlacedOrder:
    adapter = adapter_for(user)
    placed = adapter.cancel_order(orderid)
    _cancelled(user, adapter, orderid, source="cancel")
    return placed


def _cancelled(user, adapter, orderid: str, *, source: str) -> None:
    """Record a cancellation the broker accepted: on the ledger row (which audits it), or,
    for an order the ledger does not hold (placed elsewhere), in the audit trail alone."""
    order = _ledger_for(user, adapter, orderid)
    if order is not None and LedgerStatus.CANCELLED in _allowed(order):
        _complete(order, LedgerStatus.CANCELLED, source=source)
    else:
        audit.record("order_cancelled", actor=user.username, subject=orderid,
                     detail={"broker": adapter.name, "orderid": orderid, "source": source,
                             "in_ledger": order is not None})


def _allowed(order: Order) -> frozenset[str]:
    from orders.models import TRANSITIONS

    return TRANSITIONS[order.status]


def cancel_all_orders(*, user) -> tuple[list[str], list]:
    adapter = adapter_for(user)
    if hasattr(adapter, "cancel_all_orders"):
        cancelled, failed = adapter.cancel_all_orders()
    else:
        cancelled, failed = [], []
        for working in adapter.order_book():
            if working.status not in (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING):
                continue
            try:
                adapter.cancel_order(working.orderid)
                cancelled.append(working.orderid)
            except BrokerError:
                failed.append(working.orderid)
    for orderid in cancelled:
        _cancelled(user, adapter, orderid, source="cancelall")
    return cancelled, failed


def close_all_positions(*, user, source: str = "closeposition") -> tuple[int, int]:
    """Square off every open position of the account with MARKET orders: (closed, failed)."""
    adapter = adapter_for(user)
    closed = failed = 0
    for position in adapter.positions():
        if not position.quantity:
            continue
        request = OrderRequest(
            symbol=position.symbol, exchange=position.exchange,
            action=Action.SELL if position.quantity > 0 else Action.BUY, quantity=abs(position.quantity),
            product=Product(position.product), pricetype=PriceType.MARKET, strategy="Squareoff",
        )
        try:
            place_order(user=user, request=request, source=source, adapter=adapter)
            closed += 1
        except BrokerError:
            failed += 1
    return closed, failed
