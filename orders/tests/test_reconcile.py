"""Reconciliation of the ledger with the broker's books (orders/reconcile.py), in process:
orphaned and unanswered orders settled and announced, drift reported, broker failures
recorded without touching the ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from brokers.base import BrokerUnavailable, OrderRequest
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.sandbox.adapter import SandboxAdapter
from orders import events, owners, reconcile, services, tasks
from orders.models import LedgerStatus, Order, Reconciliation

BUY = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(4),
                   product=Product.MIS, pricetype=PriceType.MARKET, strategy="Recon")


@pytest.fixture
def announced(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "publish_now", lambda user_id, message: sent.append((user_id, message)))
    return sent


def _dead_owner() -> str:
    """An owner on this host whose process does not exist (pid above pid_max)."""
    return owners.PROCESS.split(":", 1)[0] + ":99999999:12345"


def test_an_order_answered_by_the_broker_but_lost_to_a_crash_is_found_by_its_tag(user, market, settings, announced,
                                                                                  django_capture_on_commit_callbacks):
    settings.OPENALGO_FAULT = "after_broker:raise"
    with pytest.raises(BrokerUnavailable):
        services.place_order(user=user, request=BUY)
    row = Order.objects.get()
    assert (row.status, row.broker_order_id) == (LedgerStatus.UNKNOWN, "")
    [sent] = SandboxAdapter(user).order_book()
    assert sent.tag == f"oa{row.pk}"

    with django_capture_on_commit_callbacks(execute=True):
        run = reconcile.reconcile(user, "sandbox", trigger="manual")  # in the book: settled at once
    row.refresh_from_db()
    assert (row.status, row.broker_order_id, row.filled_quantity) == (LedgerStatus.COMPLETE, sent.orderid, 4)
    assert run.fixed == [{"ledger_id": row.pk, "orderid": sent.orderid, "symbol": "SBIN", "exchange": "NSE",
                          "from": "unknown", "to": "complete"}]
    assert [(uid, p["orderid"], p["order_status"]) for uid, p in announced] == [(user.pk, sent.orderid, "complete")]
    assert AuditEvent.objects.filter(action="order_reconciled", detail__ledger_id=row.pk).count() == 1


def test_a_row_of_a_dead_process_is_settled_at_once_and_one_still_in_flight_is_left(
        user, market, announced, django_capture_on_commit_callbacks):
    orphan = Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY",
                                  quantity=1, product="MIS", pricetype="MARKET", owner=_dead_owner())
    in_flight = Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY",
                                     quantity=1, product="MIS", pricetype="MARKET", owner=owners.PROCESS)
    other_host = Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY",
                                      quantity=1, product="MIS", pricetype="MARKET", owner="elsewhere:1:1")
    assert reconcile.pairs_to_reconcile(orphans_only=True) == [(user.pk, "sandbox")]
    with django_capture_on_commit_callbacks(execute=True):
        [run] = reconcile.reconcile_all(trigger="startup", orphans_only=True)
    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {orphan.pk: "failed", in_flight.pk: "submitting", other_host.pk: "submitting"}
    assert Order.objects.get(pk=orphan.pk).message == reconcile.NEVER_SENT
    assert [c["ledger_id"] for c in run.fixed] == [orphan.pk]
    assert [p["order_status"] for _, p in announced] == ["failed"]


def test_drift_is_reported_orders_outside_the_platform_and_missing_ones(user, market, announced,
                                                                       django_capture_on_commit_callbacks):
    services.place_order(user=user, request=BUY)
    outside = SandboxAdapter(user).place_order(BUY)  # e.g. placed in the broker's own app
    ghost = Order.objects.create(user=user, broker="sandbox", symbol="RELIANCE", exchange="NSE", action="BUY",
                                 quantity=2, product="MIS", pricetype="LIMIT", status=LedgerStatus.OPEN,
                                 broker_order_id="99999999999999")
    with django_capture_on_commit_callbacks(execute=True):
        run = reconcile.reconcile(user, "sandbox", trigger="beat")
    kinds = {(d["kind"], d.get("orderid")) for d in run.differences}
    assert ("not_in_ledger", outside.orderid) in kinds
    assert ("missing_at_broker", ghost.broker_order_id) in kinds
    [position] = [d for d in run.differences if d["kind"] == "position_differs"]
    assert (position["symbol"], position["ledger"], position["broker"]) == ("SBIN", "4", "8")
    assert announced == []  # nothing the trader was waiting for


def test_fills_the_ledger_missed_are_corrected(user, market):
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(5),
                           product=Product.MIS, pricetype=PriceType.LIMIT, price=Decimal(790))
    placed = services.place_order(user=user, request=request)
    Order.objects.filter(broker_order_id=placed.orderid).update(status=LedgerStatus.OPEN)
    market.set("NSE:SBIN", "780")
    from brokers.sandbox.exchange import sweep

    sweep()
    Order.objects.filter(broker_order_id=placed.orderid).update(status=LedgerStatus.OPEN, filled_quantity=0)
    run = reconcile.reconcile(user, "sandbox", trigger="beat")
    row = Order.objects.get(broker_order_id=placed.orderid)
    assert (row.status, row.filled_quantity, row.average_price) == (LedgerStatus.COMPLETE, 5, Decimal(790))
    assert [c["to"] for c in run.fixed] == ["complete"]
    assert [d for d in run.differences if d["kind"] == "position_differs"] == []


def test_a_broker_that_cannot_be_read_leaves_the_ledger_alone(user, market, monkeypatch):
    row = Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY",
                               quantity=1, product="MIS", pricetype="MARKET", owner=_dead_owner())

    def down(self):
        raise BrokerUnavailable("read timeout")

    monkeypatch.setattr(SandboxAdapter, "order_book", down)
    run = reconcile.reconcile(user, "sandbox", trigger="beat")
    assert run.error == "BrokerUnavailable: read timeout"
    assert Order.objects.get(pk=row.pk).status == LedgerStatus.SUBMITTING
    assert Reconciliation.objects.get().error == run.error


def test_the_beat_task_reconciles_every_account_with_orders_today(user, make_user, market):
    services.place_order(user=user, request=BUY)
    other = make_user("other")
    services.place_order(user=other, request=BUY)
    assert tasks.reconcile() == {"accounts": 2, "fixed": 0, "differences": 0, "errors": 0}
    assert set(Reconciliation.objects.values_list("user__username", "trigger")) == {("trader", "beat"),
                                                                                 ("other", "beat")}


def test_owner_identity_tells_a_live_process_from_a_dead_one():
    assert not owners.owner_is_gone(owners.PROCESS)
    assert owners.owner_is_gone(_dead_owner())
    host, pid, started = owners.PROCESS.split(":")
    assert owners.owner_is_gone(f"{host}:{pid}:{int(started) + 1}")  # the pid reused by another process
    assert not owners.owner_is_gone("another-host:1:1") and not owners.owner_is_gone("")


def test_old_runs_are_purged_quiet_ones_first(user):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    keep = [Reconciliation.objects.create(user=user, broker="sandbox", trigger="beat"),
            Reconciliation.objects.create(user=user, broker="sandbox", trigger="beat", error="down",
                                          at=now - timedelta(days=3))]
    Reconciliation.objects.create(user=user, broker="sandbox", trigger="beat", at=now - timedelta(days=2))
    Reconciliation.objects.create(user=user, broker="sandbox", trigger="beat", error="down",
                                  at=now - timedelta(days=31))
    assert tasks.purge_reconciliations() == 2
    assert set(Reconciliation.objects.values_list("pk", flat=True)) == {r.pk for r in keep}


def test_accounts_with_orders_since_market_midnight_are_compared_and_not_yesterdays(user, make_user):
    from datetime import timedelta

    from django.utils import timezone

    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)  # in IST, the market's
    late, early = make_user("yesterday"), make_user("today")
    for owner, at in ((late, midnight - timedelta(microseconds=1)), (early, midnight)):
        Order.objects.create(user=owner, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY", quantity=1,
                             product="MIS", pricetype="MARKET", status=LedgerStatus.COMPLETE, created_at=at)
    assert reconcile.pairs_to_reconcile(orphans_only=False) == [(early.pk, "sandbox")]
