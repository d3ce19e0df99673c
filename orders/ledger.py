"""The ledger's small shared facts: the tag that finds our order in a broker's book, and
how a ledger row moves and is audited. Low in the app: placement, changes and
reconciliation all use it, and it uses none of them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db import transaction

from accounts import audit
from orders import events
from orders.models import TRANSITIONS, LedgerStatus, Order

if TYPE_CHECKING:
    from accounts.models import User


LEDGER_TAG_PREFIX = "oa"


def ledger_tag(order: Order) -> str:
    """The reference sent with the order (OrderRequest.tag) that finds it again in the broker's book."""
    return f"{LEDGER_TAG_PREFIX}{order.pk}"


def ledger_id_from_tag(tag: str) -> int | None:
    """The ledger row a broker order's tag names, if it is one of ours (``oa<ledger id>``)."""
    number = tag[len(LEDGER_TAG_PREFIX):] if tag.startswith(LEDGER_TAG_PREFIX) else ""
    return int(number) if number.isdigit() else None


# The ledger row whose broker call this thread (context) is making now, if any.
_placing: ContextVar[int | None] = ContextVar("placing_ledger_row", default=None)


@contextmanager
def placing(order: Order) -> Iterator[None]:
    """Around the broker call of ``order``: a paper broker reports the order's moves from
    inside that call (brokers.signals.order_changed), before the row has its answer."""
    token = _placing.set(order.pk)
    try:
        yield
    finally:
        _placing.reset(token)


def placed_here(ledger_id: int | None) -> bool:
    """True while this thread is inside the broker call of ledger row ``ledger_id``: the row
    is still ``submitting`` and this call completes it with the broker's answer."""
    return ledger_id is not None and ledger_id == _placing.get()


def complete(order: Order, status: str, *, source: str = "broker", **fields: Any) -> None:
    """Move ``order`` to ``status`` with ``fields`` and audit the move, in one transaction (one
    commit; the audit append is a savepoint of its own, so an audit failure, which
    ``audit.record`` logs, never undoes the move)."""
    with transaction.atomic():
        event = order.move_to(status, detail={k: str(v) for k, v in fields.items()}, source=source)
        for name, value in fields.items():
            setattr(order, name, value)
        order.save()
        event.save()
        events.announce(order)
        _audit(order, status, source)


def _audit(order: Order, status: str, source: str) -> None:
    audit.record(f"order_{status.replace(' ', '_')}", actor=order.user.username,
                 subject=f"{order.exchange}:{order.symbol}",
                 detail={"ledger_id": order.pk, "broker": order.broker, "orderid": order.broker_order_id,
                         "action": order.action, "quantity": str(order.quantity), "pricetype": order.pricetype,
                         "product": order.product, "source": source, "strategy": order.strategy})


def row_for(user: User, broker: str, orderid: str) -> Order | None:
    return Order.objects.filter(user=user, broker=broker, broker_order_id=orderid).first()


def record_cancelled(user: User, broker: str, orderid: str, *, source: str) -> None:
    """Record a cancellation the broker accepted: on the ledger row (which audits it), or,
    for an order the ledger does not hold (placed elsewhere), in the audit trail alone."""
    order = row_for(user, broker, orderid)
    if order is not None and LedgerStatus.CANCELLED in TRANSITIONS[order.status]:
        complete(order, LedgerStatus.CANCELLED, source=source)
    else:
        audit.record("order_cancelled", actor=user.username, subject=orderid,
                     detail={"broker": broker, "orderid": orderid, "source": source,
                             "in_ledger": order is not None})
