"""Sending one order to its broker: the ledger row is written before the broker call and
completed after it (design.md, the path of an order), and every broker order call is
paced by the broker's declared rate limits first. No risk checks here: the callers
(placement, and the square-off paths that only reduce risk) decide those."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from brokers import ratelimit
from brokers.base import (
    BrokerAdapter,
    BrokerError,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    OrderRequest,
    PlacedOrder,
)
from core import metrics
from orders import faults, idempotency
from orders.ledger import complete, ledger_tag, placing
from orders.models import LedgerStatus, Order, OrderEvent
from orders.owners import this_process

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger(__name__)

PLACE_FAILED = "Failed to place order due to internal error"


def rate_limit_text(retry_after: float) -> str:
    return (f"Broker order rate limit reached: order not sent. Retry after {max(retry_after, 0.001):.3f} "
            "seconds")


def pace_order_call(user: User, adapter: BrokerAdapter, *, max_wait: float | None = None) -> None:
    """Take a token from the broker's order bucket for this account, waiting at most
    ``max_wait`` (BROKER_PACING_MAX_WAIT) in this thread; beyond it the call is refused
    with a 429 and when to retry, and nothing has been written or sent."""
    bound = settings.BROKER_PACING_MAX_WAIT if max_wait is None else max_wait
    try:
        waited = ratelimit.pace(broker=adapter.name, account=str(user.pk), limits=adapter.capabilities.rate_limits,
                                kind=ratelimit.CallKind.ORDERS, max_wait=bound)
    except ratelimit.PacingExceeded as exc:
        metrics.count_reject("broker_rate_limit")
        raise BrokerRateLimited(rate_limit_text(exc.retry_after), retry_after=exc.retry_after) from None
    if waited:
        log.debug("Paced an order call to %s by %.3fs", adapter.name, waited)


def open_row(user: User, adapter: BrokerAdapter, request: OrderRequest, source: str) -> Order:
    """The ledger row of an order about to be sent, committed as ``submitting``; written by an
    Idempotency-Key request, it names the request's record in the same INSERT. The row and
    its first event are one transaction (one commit)."""
    with transaction.atomic():
        return _open_row(user, adapter, request, source)


def _open_row(user: User, adapter: BrokerAdapter, request: OrderRequest, source: str) -> Order:
    order = Order.objects.create(
        user=user, broker=adapter.name, analyze=bool(user.analyze_mode), strategy=request.strategy,
        symbol=request.symbol, exchange=str(request.exchange), action=request.action,
        quantity=request.quantity, product=request.product, pricetype=request.pricetype,
        price=request.price, trigger_price=request.trigger_price, disclosed_quantity=request.disclosed_quantity,
        source=source, owner=this_process(), **idempotency.link_fields(),
    )
    OrderEvent.objects.create(order=order, from_status="", to_status=LedgerStatus.SUBMITTING, source=source)
    return order


def send(user: User, adapter: BrokerAdapter, order: Order, request: OrderRequest) -> PlacedOrder:
    """Call the broker for the ledger row ``order`` and complete the row with its answer.
    A rejection, a timeout or an outage are recorded and re-raised; never retried."""
    request = replace(request, tag=ledger_tag(order))
    faults.hit("after_ledger")
    started = time.perf_counter()
    try:
        with placing(order):
            placed = adapter.place_order(request)
        faults.hit("after_broker")
    except BrokerRejected as exc:
        metrics.observe_order(adapter.name, time.perf_counter() - started, "rejected")
        metrics.count_reject("broker_rejected")
        complete(order, LedgerStatus.REJECTED, message=exc.message, broker_order_id=exc.orderid)
        raise
    except BrokerError as exc:
        # Timeout or outage: the broker may have the order. Never retried; reconciled later.
        metrics.observe_order(adapter.name, time.perf_counter() - started, "unknown")
        complete(order, LedgerStatus.UNKNOWN, message=exc.message)
        if exc.http_status >= 500:  # not a refusal: an Idempotency-Key retry must learn the outcome
            idempotency.outcome_unknown()
        raise
    except Exception as exc:
        metrics.observe_order(adapter.name, time.perf_counter() - started, "error")
        log.exception("Placing order %s failed unexpectedly", order.pk)
        complete(order, LedgerStatus.UNKNOWN, message=f"{type(exc).__name__}: {exc}")
        idempotency.outcome_unknown()
        raise BrokerUnavailable(PLACE_FAILED) from exc
    metrics.observe_order(adapter.name, time.perf_counter() - started, "success")
    status = LedgerStatus(placed.status.value) if placed.status else LedgerStatus.OPEN
    if status == LedgerStatus.COMPLETE:
        # The fill price goes into the same move, so the order event of an instant fill carries it.
        complete(order, status, broker_order_id=placed.orderid, filled_quantity=order.quantity,
                 average_price=placed.average_price or order.average_price)
    else:
        complete(order, status, broker_order_id=placed.orderid)
    return placed
