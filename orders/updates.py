"""Orders that move at the broker on the broker's own initiative (the paper exchange's
fills on later ticks, expiry, square-off): the ledger row follows, and the move is
announced as the one order event (orders/events.py)."""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.models import User
from brokers.base import BrokerOrder
from brokers.gtt import FIRED_ORDER_TAG
from orders import events
from orders.ledger import ledger_id_from_tag, placed_here
from orders.models import TRANSITIONS, LedgerStatus, Order, OrderEvent

log = logging.getLogger(__name__)



def _ledger_row(broker: str, user_id: int, broker_order: BrokerOrder, *, lock: bool = True) -> Order | None:
    """The ledger row of this broker order: by its id, or by the tag we sent with it (a
    placement whose answer the ledger has not recorded yet carries only the tag)."""
    rows = (Order.objects.select_for_update() if lock else Order.objects).filter(broker=broker, user_id=user_id)
    row = rows.filter(broker_order_id=broker_order.orderid).first()
    tag = broker_order.tag or ""
    ledger_id = ledger_id_from_tag(tag)
    if row is None and ledger_id is not None:
        row = rows.filter(pk=ledger_id, broker_order_id="").first()
    return row


def _adopt(broker: str, user_id: int, broker_order: BrokerOrder, *, paper: bool, source: str) -> Order:
    """A ledger row for an order the broker placed for us (a fired GTT), in the state the
    broker reports, so books, risk and reconciliation count it like any order of ours."""
    row = Order.objects.create(
        user_id=user_id, broker=broker, analyze=paper, strategy=broker_order.strategy, symbol=broker_order.symbol,
        exchange=str(broker_order.exchange), action=str(broker_order.action), quantity=broker_order.quantity,
        product=str(broker_order.product), pricetype=str(broker_order.pricetype), price=broker_order.price,
        trigger_price=broker_order.trigger_price, status=str(broker_order.status),
        broker_order_id=broker_order.orderid, filled_quantity=broker_order.filled_quantity,
        average_price=broker_order.average_price, message=broker_order.rejection_reason, source=source,
    )
    OrderEvent.objects.create(order=row, from_status="", to_status=row.status, source=source,
                              detail={"tag": broker_order.tag})
    return row


def _nothing_to_move(row: Order, order: BrokerOrder) -> bool:
    """The ledger row already says what the broker says (or the placing process completes it)."""
    if row.status == LedgerStatus.SUBMITTING:
        return True
    moved = str(order.status) != row.status and str(order.status) in TRANSITIONS[row.status]
    return not moved and order.filled_quantity == row.filled_quantity


def on_broker_order_changed(sender: str, *, user_id: int, order: BrokerOrder, paper: bool = False,
                            **kwargs: object) -> None:
    """Receiver of brokers.signals.order_changed (connected in OrdersConfig.ready). Decided
    first without a lock: news the ledger already has (the paper exchange's announcement of an
    order its placer is still completing, a repeated push, a poll) writes nothing. A row's
    state only moves forward, so a stale unlocked read can only send us on to the locked check."""
    status = str(order.status)
    if placed_here(ledger_id_from_tag(order.tag or "")):
        return  # reported from inside our own broker call: its answer completes and announces the row
    seen = _ledger_row(sender, user_id, order, lock=False)
    if seen is not None and _nothing_to_move(seen, order):
        return
    with transaction.atomic():
        row = _ledger_row(sender, user_id, order)
        if row is None and (order.tag or "").startswith(FIRED_ORDER_TAG):
            row = _adopt(sender, user_id, order, paper=paper, source="gtt")
            events.announce(row)
            return
        if row is None:
            # An order the broker made itself (square-off, expiry): no ledger row, still news.
            username = User.objects.filter(pk=user_id).values_list("username", flat=True).first() or str(user_id)
            events.announce_broker_order(user_id, username, events.broker_order_payload(
                order, broker=sender, mode="analyze" if paper else "live"))
            return
        if _nothing_to_move(row, order):
            return  # the placing process completes it, or the ledger already says this
        moved = status != row.status and status in TRANSITIONS[row.status]
        event = row.move_to(LedgerStatus(status), source=sender,
                            detail={"average_price": str(order.average_price)}) if moved else None
        row.broker_order_id = row.broker_order_id or order.orderid  # found by our tag: now known by its id
        row.filled_quantity = order.filled_quantity
        row.average_price = order.average_price or row.average_price
        row.message = order.rejection_reason or row.message
        row.save()
        if event is not None:
            event.save()
        events.announce(row)
