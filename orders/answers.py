"""The answer of an order-placing request, rebuilt from the ledger rows it wrote: what an
``Idempotency-Key`` retry receives when the process that ran the request died before
answering, or answered while an order's outcome was still unknown (orders/idempotency.py).

Rows are linked to their request when written (``Order.idempotency``, and
``Order.request_item``: the basket item or split part, from 1). Only settled rows are
answered from (``unresolved`` says when to wait), and only when one of the request's
orders reached the broker (``reached_broker``; otherwise the key is released and a retry
places the request afresh). Then, per endpoint:

- placeorder, placesmartorder: the order's answer, ``{"status":"success","orderid":...}``,
  or its rejection in the spec's error shape (400, with the broker's ``orderid`` when it
  gave one). A cancelled order was placed: it answers success too.
- basketorder, splitorder: the endpoint's body with one result per planned order, listed as
  the endpoint lists them (the plan below is the one orders.baskets follows). A planned
  order without a row (the process died before writing it) or with a ``failed`` one (never
  reached the broker) is an error result saying it was not placed: the client can re-send
  just those, under a new key.
- anything else (optionsorder, optionsmultiorder): the orders alone, one as placeorder
  answers it, several as basket results; fields computed from a quote at the time
  (``underlying_ltp``) died with the process.

``"mode":"analyze"`` is added when the orders went to the paper engine in analyze mode,
as the original answer did. Risk refusals are not linked (they never reach the broker):
a request that died after one is released like one that wrote nothing.

Low in the app: it imports only the models, so orders.baskets and orders.idempotency can
both use the plan."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from brokers.enums import Action
from orders.models import LedgerStatus, Order

T = TypeVar("T")
Body = dict[str, Any]

UNRESOLVED = (LedgerStatus.SUBMITTING, LedgerStatus.UNKNOWN)
ACCEPTED = (LedgerStatus.OPEN, LedgerStatus.TRIGGER_PENDING, LedgerStatus.COMPLETE, LedgerStatus.CANCELLED)
NOT_PLACED = "Not placed: the server stopped before sending this order"


# --- The plan of a multi-order request, shared with orders.baskets ------------------------------


def buys_first(items: Iterable[T], action: Callable[[T], str]) -> list[T]:
    """A basket's order of execution (and of its results): BUYs before SELLs, for the margin
    benefit, the request's order kept within a side."""
    listed = list(items)
    return [i for i in listed if action(i) == Action.BUY] + [i for i in listed if action(i) == Action.SELL]


def split_sizes(total: int, size: int) -> list[int]:
    """A split order's parts: ``size`` each, then the remainder."""
    sizes = [size] * (total // size)
    if total % size:
        sizes.append(total % size)
    return sizes


# --- Settled rows to answers ---------------------------------------------------------------------


def unresolved(rows: Iterable[Order]) -> bool:
    return any(row.status in UNRESOLVED for row in rows)


def reached_broker(rows: Iterable[Order]) -> bool:
    return any(row.status in ACCEPTED or row.status == LedgerStatus.REJECTED for row in rows)


def rebuild(endpoint: str, request: Mapping[str, Any] | None, rows: list[Order]) -> tuple[int, Body]:
    """(status code, body) the endpoint would have answered; ``rows`` settled, in
    (request_item, pk) order, at least one of them reached the broker."""
    extra: Body = {"mode": "analyze"} if any(row.analyze for row in rows) else {}
    if endpoint == "basketorder" and request and isinstance(request.get("orders"), list):
        return 200, {"status": "success", "results": _basket(request["orders"], rows), **extra}
    if endpoint == "splitorder" and request and "splitsize" in request:
        total, size = int(float(request["quantity"])), int(request["splitsize"])
        results = [{"order_num": number, "quantity": quantity, **_outcome(_item(rows, number))}
                   for number, quantity in enumerate(split_sizes(total, size), start=1)]
        return 200, {"status": "success", "total_quantity": total, "split_size": size, "results": results, **extra}
    if len(rows) == 1:
        outcome = _outcome(rows[0])
        if outcome["status"] == "success":
            return 200, {**outcome, **extra}
        # As core.api.errors writes a broker's rejection: the order id first.
        head: Body = {"status": "error", **({"orderid": outcome["orderid"]} if "orderid" in outcome else {})}
        return 400, {**head, "message": outcome["message"], **extra}
    results = [{"symbol": row.symbol, "exchange": row.exchange, **_outcome(row)} for row in rows]
    return 200, {"status": "success", "results": results, **extra}


def _item(rows: list[Order], number: int) -> Order | None:
    return next((row for row in rows if row.request_item == number), None)


def _outcome(row: Order | None) -> Body:
    """One order's part of an answer, keys in the order orders.baskets writes them."""
    if row is not None and row.status in ACCEPTED:
        return {"status": "success", "orderid": row.broker_order_id}
    if row is not None and row.status == LedgerStatus.REJECTED:
        return {"status": "error", "message": row.message,
                **({"orderid": row.broker_order_id} if row.broker_order_id else {})}
    return {"status": "error", "message": row.message if row is not None and row.message else NOT_PLACED}


def _basket(items: list[Mapping[str, Any]], rows: list[Order]) -> list[Body]:
    results: list[Body] = []
    for number, item in enumerate(buys_first(items, lambda i: str(i.get("action", ""))), start=1):
        row = _item(rows, number)
        head: Body = {"symbol": str(item.get("symbol", "")), "exchange": str(item.get("exchange", ""))}
        outcome = _outcome(row)
        if outcome["status"] == "success" and row is not None:
            head["product"] = row.product
        results.append({**head, **outcome})
    return results
