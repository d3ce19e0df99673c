"""The ledger's status machine: only the table's moves are possible, each one recorded."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from orders.models import TERMINAL, TRANSITIONS, IllegalTransition, LedgerStatus, Order


@pytest.fixture
def order(user):
    return Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY",
                                quantity=1, product="MIS", pricetype="MARKET")


def test_a_new_ledger_row_starts_as_submitting_before_the_broker_answers(order):
    assert order.status == LedgerStatus.SUBMITTING and not order.is_terminal


def test_a_legal_move_changes_status_and_yields_an_event_row(order):
    event = order.move_to(LedgerStatus.OPEN, detail={"broker_order_id": "1"})
    order.save()
    event.save()
    order.refresh_from_db()
    assert order.status == "open"
    assert [(e.from_status, e.to_status) for e in order.events.all()] == [("submitting", "open")]


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_nothing_leaves_a_terminal_status(order, terminal):
    order.status = terminal
    for target in LedgerStatus.values:
        if target != terminal:
            with pytest.raises(IllegalTransition):
                order.move_to(target)


def test_a_filled_order_cannot_go_back_to_open(order):
    order.status = LedgerStatus.COMPLETE
    with pytest.raises(IllegalTransition):
        order.move_to(LedgerStatus.OPEN)


def test_an_order_whose_answer_was_lost_can_still_be_settled_by_reconciliation(order):
    order.move_to(LedgerStatus.UNKNOWN)
    order.move_to(LedgerStatus.COMPLETE, source="reconcile")
    assert order.status == "complete"


def test_every_status_has_a_row_in_the_transition_table():
    assert set(TRANSITIONS) == set(LedgerStatus.values)


def test_one_broker_order_id_maps_to_one_ledger_row(order, user):
    order.broker_order_id = "25112400000001"
    order.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY", quantity=1,
                             product="MIS", pricetype="MARKET", broker_order_id="25112400000001")


def test_an_order_that_fills_at_once_is_announced_once_with_its_fill_price(user, market,
                                                                         django_capture_on_commit_callbacks,
                                                                         monkeypatch):
    from decimal import Decimal

    from brokers.base import OrderRequest
    from brokers.enums import Action, Exchange, PriceType, Product
    from orders import events, services

    published = []
    monkeypatch.setattr(events, "publish_now", lambda user_id, message: published.append(message))
    with django_capture_on_commit_callbacks(execute=True):
        placed = services.place_order(user=user, request=OrderRequest(
            symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(2),
            product=Product.MIS, pricetype=PriceType.MARKET))
    row = Order.objects.get(broker_order_id=placed.orderid)
    assert row.status == LedgerStatus.COMPLETE and row.average_price > 0
    assert [(m["orderid"], m["order_status"], m["filled_quantity"], m["average_price"]) for m in published] == [
        (placed.orderid, "complete", 2, float(row.average_price))]


SANDBOX_MARKET_BUY = {"strategy": "T", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1",
                      "pricetype": "MARKET", "product": "MIS"}


@pytest.mark.django_db(transaction=True)  # the paper broker reports on commit
def test_a_paper_fill_reported_inside_its_own_placement_costs_no_transaction(api_call, market):
    """The paper broker reports an instant fill (order_changed) from inside the placing call:
    the receiver leaves the row to that call, which completes it with the same fill, once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import AuditEvent
    from orders import updates

    seen = []
    original = updates.on_broker_order_changed

    def watched(sender, **kwargs):
        with CaptureQueriesContext(connection) as queries:
            original(sender, **kwargs)
        seen.append((str(kwargs["order"].status), len(queries)))

    from brokers.signals import order_changed

    uid = "orders.broker_order_changed"  # as OrdersConfig.ready connects it
    order_changed.disconnect(dispatch_uid=uid)
    order_changed.connect(watched, weak=False, dispatch_uid=uid)
    try:
        status, body = api_call("placeorder", **SANDBOX_MARKET_BUY)
    finally:
        order_changed.disconnect(dispatch_uid=uid)
        order_changed.connect(original, weak=False, dispatch_uid=uid)
    assert status == 200, body
    assert seen and all(count == 0 for _, count in seen), seen  # reported, and no query for it
    row = Order.objects.get()
    assert (row.status, row.broker_order_id, row.filled_quantity) == (LedgerStatus.COMPLETE, body["orderid"], 1)
    assert [(e.from_status, e.to_status) for e in row.events.order_by("pk")] == [
        ("", "submitting"), ("submitting", "complete")]
    assert AuditEvent.objects.filter(action="order_complete").count() == 1


def test_outside_its_placement_a_paper_fill_still_reaches_the_ledger(user):
    """placed_here names only the row of the broker call in progress in this thread."""
    from orders.ledger import placed_here, placing

    row = Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY",
                               quantity=1, product="MIS", pricetype="MARKET")
    assert not placed_here(row.pk)
    with placing(row):
        assert placed_here(row.pk)
        assert not placed_here(row.pk + 1)
        assert not placed_here(None)
    assert not placed_here(row.pk)
