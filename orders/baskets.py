"""Many orders in one request: a basket (BUYs before SELLs) and a split order (equal
slices, remainder last). Each child is placed exactly as placeorder places one.

Pacing: the request thread never sleeps between children. Each child takes a token
from the broker's order bucket (brokers/ratelimit.py); the whole request may wait at
most BROKER_PACING_MAX_WAIT for tokens, and a child that would need longer is answered
as a per-item error carrying when to retry (spec §5.3/§5.4: 200 with a status per
child), never placed behind the trader's back later.

The plan (which child goes first, the split's sizes) is orders/answers.py's, so a request
whose process died is answered item for item as it would have been."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import close_old_connections

from brokers.base import BrokerAdapter, BrokerError, OrderRequest
from orders import freeze, idempotency
from orders.answers import buys_first, split_sizes
from orders.placement import place_order
from orders.routing import adapter_for
from orders.sending import PLACE_FAILED

if TYPE_CHECKING:
    from accounts.models import User

SPLIT_CAP = 100
BASKET_BATCH = 10
Item = dict[str, Any]


class Deadline:
    """The end of the time a request may spend waiting for broker tokens."""

    def __init__(self, seconds: float | None = None) -> None:
        self.at = time.monotonic() + (settings.BROKER_PACING_MAX_WAIT if seconds is None else seconds)

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())


def child_outcome(user: User, adapter: BrokerAdapter, request: OrderRequest, source: str,
                  deadline: Deadline, number: int) -> Item:
    """The ``number``-th child order's per-item answer (its ledger row says which, from 1):
    success with its order id, or the error."""
    try:
        with idempotency.item(number):
            placed = place_order(user=user, request=request, source=source, adapter=adapter,
                                 max_wait=deadline.left())
    except BrokerError as exc:
        return {"status": "error", "message": exc.message if exc.http_status < 500 else PLACE_FAILED,
                **({"orderid": exc.orderid} if exc.orderid else {})}
    return {"status": "success", "orderid": placed.orderid}


def _in_thread(call: Callable[[], Item]) -> Item:
    try:
        return call()
    finally:
        close_old_connections()


def place_basket(*, user: User, requests: list[OrderRequest]) -> list[Item]:
    """BUYs before SELLs (margin benefit), request order kept within a side; each order is
    independent. The paper engine takes them one by one; live brokers concurrently in
    batches of 10 (so a slow broker answer does not hold the others)."""
    ordered = buys_first(requests, lambda r: str(r.action))
    adapter = adapter_for(user)
    deadline = Deadline()

    def item(request: OrderRequest, outcome: Item) -> Item:
        head: Item = {"symbol": request.symbol, "exchange": str(request.exchange)}
        if outcome["status"] == "success":
            head["product"] = str(request.product)
        return {**head, **outcome}

    if adapter.capabilities.paper:
        return [item(r, child_outcome(user, adapter, r, "basket", deadline, n))
                for n, r in enumerate(ordered, start=1)]
    results: list[Item] = []
    with ThreadPoolExecutor(max_workers=BASKET_BATCH) as pool:
        for start in range(0, len(ordered), BASKET_BATCH):
            batch = ordered[start:start + BASKET_BATCH]
            # Each thread runs in its own copy of this context: its ledger row names the request too.
            futures = [pool.submit(copy_context().run, _in_thread,
                                   partial(child_outcome, user, adapter, r, "basket", deadline, n))
                       for n, r in enumerate(batch, start=start + 1)]
            results.extend(item(r, f.result()) for r, f in zip(batch, futures, strict=True))
    return results


class TooManySplits(BrokerError):
    http_status = 400

    def __init__(self) -> None:
        super().__init__(f"Total number of orders would exceed maximum limit of {SPLIT_CAP}")


def check_split(total: int, size: int) -> None:
    """Refuse, before any order, a split into more than SPLIT_CAP children."""
    if len(split_sizes(total, size)) > SPLIT_CAP:
        raise TooManySplits()


def place_split(*, user: User, request: OrderRequest, splitsize: int) -> list[Item]:
    """Children of ``splitsize`` then the remainder, one after the other."""
    adapter = adapter_for(user)
    freeze.check_split(adapter, request, splitsize)
    deadline = Deadline()
    results = []
    for number, size in enumerate(split_sizes(int(request.quantity), splitsize), start=1):
        outcome = child_outcome(user, adapter, replace(request, quantity=Decimal(size)), "split", deadline, number)
        results.append({"order_num": number, "quantity": size, **outcome})
    return results
