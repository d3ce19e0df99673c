"""A retry after a crash learns what happened to its order (orders/idempotency.py,
orders/answers.py): an Idempotency-Key request whose process died, or that answered
while its order's outcome was unknown, is settled from the ledger by reconciliation.

A kill is played in process by ``Killed``, a BaseException raised at a fault point: no
``except Exception`` handler runs and open transactions roll back, as after SIGKILL; then
``die()`` hands the process's records and rows to an owner that no longer runs."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from brokers.base import BrokerUnavailable, OrderRequest
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.sandbox.adapter import SandboxAdapter
from brokers.sandbox.models import SandboxOrder
from orders import answers, faults, idempotency, reconcile, services, tasks
from orders.models import IdempotencyRecord, LedgerStatus, Order
from orders.owners import PROCESS, _start_ticks

BUY = {"strategy": "Python", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1"}
HOST = PROCESS.split(":", 1)[0]
DEAD = f"{HOST}:99999999:12345"  # a pid above pid_max: no such process


class Killed(BaseException):
    """Stands for SIGKILL at a fault point."""


@pytest.fixture
def kill_at(monkeypatch):
    """``kill_at(point, nth)``: the nth time the code passes ``point`` it is killed."""

    def arm(point: str, nth: int = 1) -> None:
        passed = {"count": 0}

        def hit(name: str) -> None:
            if name == point:
                passed["count"] += 1
                if passed["count"] == nth:
                    raise Killed(point)

        monkeypatch.setattr(faults, "hit", hit)

    return arm


def die() -> None:
    """The process that ran the killed request is gone: what it owned belongs to a dead pid."""
    IdempotencyRecord.objects.filter(owner=PROCESS).update(owner=DEAD)
    Order.objects.filter(owner=PROCESS).update(owner=DEAD)


@pytest.fixture
def send(post_json, api_key, market):
    """POST an order endpoint with an Idempotency-Key: (status, body, Retry-After or None)."""

    def send(endpoint: str = "placeorder", body: dict | None = None, key: str = "k-1"):
        response = post_json(f"/api/v1/{endpoint}", {"apikey": api_key, **(body or BUY)}, HTTP_IDEMPOTENCY_KEY=key)
        return response.status_code, response.json(), response.headers.get("Retry-After")

    return send


@pytest.fixture
def killed(send, kill_at):
    """Send a request that is killed at ``point`` (the nth time); the client gets no answer."""

    def killed(point: str, endpoint: str = "placeorder", body: dict | None = None, key: str = "k-1", nth: int = 1):
        kill_at(point, nth)
        with pytest.raises(Killed):
            send(endpoint, body, key)
        die()

    return killed


def startup_sweep():
    return reconcile.reconcile_all(trigger="startup", orphans_only=True)


def test_killed_after_the_broker_accepted_the_retry_gets_the_order_id(send, killed):
    killed("after_broker")
    [row] = Order.objects.all()
    [sent] = SandboxOrder.objects.all()
    assert (row.status, row.idempotency.key, sent.tag) == (LedgerStatus.SUBMITTING, "k-1", f"oa{row.pk}")

    status, body, retry_after = send()  # before reconciliation: the outcome is not known here
    assert (status, retry_after) == (409, str(idempotency.RECOVERING_RETRY_AFTER))
    assert body == {"status": "error", "message": idempotency.RECOVERING}

    startup_sweep()
    assert send() == (200, {"status": "success", "orderid": sent.orderid}, None)
    assert send() == (200, {"status": "success", "orderid": sent.orderid}, None)
    assert SandboxOrder.objects.count() == 1 and Order.objects.get().status == LedgerStatus.COMPLETE


def test_killed_before_the_broker_call_the_key_is_released_and_the_retry_places_the_order(send, killed):
    killed("after_ledger")
    assert not SandboxOrder.objects.exists()
    assert send()[0] == 409  # the row is still submitting: nobody has looked at the broker yet

    startup_sweep()
    first = Order.objects.get()
    assert (first.status, first.idempotency) == (LedgerStatus.FAILED, None)  # failed, its record released
    assert not IdempotencyRecord.objects.exists()
    status, body, _ = send()
    [sent] = SandboxOrder.objects.all()
    assert (status, body) == (200, {"status": "success", "orderid": sent.orderid})
    assert Order.objects.get(broker_order_id=sent.orderid).idempotency.key == "k-1"
    assert send()[:2] == (200, body)


def test_killed_before_any_ledger_row_the_retry_places_the_order_at_once(send, killed):
    killed("after_claim")
    assert IdempotencyRecord.objects.get().status_code is None and not Order.objects.exists()
    status, body, _ = send()  # no reconciliation needed: nothing was written, nothing sent
    [sent] = SandboxOrder.objects.all()
    assert (status, body) == (200, {"status": "success", "orderid": sent.orderid})


def test_reconciliation_releases_a_record_without_rows_without_waiting_for_a_retry(send, killed):
    killed("after_claim")
    startup_sweep()
    assert not IdempotencyRecord.objects.exists()


def test_a_rejected_order_answers_its_rejection(send, killed, user):
    sell = {**BUY, "action": "SELL", "product": "CNC"}  # no holdings: the sandbox books it as rejected
    killed("after_ledger", body=sell)
    row = Order.objects.get()
    # The dead process's request had reached the broker (killed inside the broker call).
    with pytest.raises(Exception, match="holdings"):
        SandboxAdapter(user).place_order(_request(row, tag=f"oa{row.pk}"))
    startup_sweep()
    row.refresh_from_db()
    assert row.status == LedgerStatus.REJECTED
    status, body, _ = send(body=sell)
    assert (status, body) == (400, {"status": "error", "orderid": row.broker_order_id, "message": row.message})
    # The same shape an uninterrupted request answers.
    again_status, again = send(body=sell, key="k-2")[:2]
    assert again_status == 400 and set(again) == set(body) and again["message"] == body["message"]


def _request(row: Order, tag: str) -> OrderRequest:
    return OrderRequest(symbol=row.symbol, exchange=Exchange(row.exchange), action=Action(row.action),
                        quantity=row.quantity, product=Product(row.product), pricetype=PriceType(row.pricetype),
                        tag=tag)


def test_analyze_mode_answers_carry_the_mode_as_the_original_did(send, killed, user):
    user.analyze_mode = True
    user.save()
    killed("after_broker")
    startup_sweep()
    status, body, _ = send()
    assert (status, body) == (200, {"status": "success", "orderid": SandboxOrder.objects.get().orderid,
                                    "mode": "analyze"})
    assert set(send(key="k-2")[1]) == set(body)  # the same fields (JSON keys have no order)


def test_a_timeout_is_not_the_final_answer_the_retry_learns_the_order_was_placed(send, monkeypatch):
    real = SandboxAdapter.place_order

    def placed_then_timed_out(self, request):
        real(self, request)
        raise BrokerUnavailable("read timeout after 10s")

    monkeypatch.setattr(SandboxAdapter, "place_order", placed_then_timed_out)
    assert send()[:2] == (500, {"status": "error", "message": "Failed to place order due to internal error"})
    monkeypatch.setattr(SandboxAdapter, "place_order", real)
    assert IdempotencyRecord.objects.get().owner == idempotency.ABANDONED
    status, _, retry_after = send()
    assert (status, retry_after) == (409, str(idempotency.RECOVERING_RETRY_AFTER))

    tasks.reconcile()  # beat
    assert send()[:2] == (200, {"status": "success", "orderid": SandboxOrder.objects.get().orderid})


def test_an_order_the_broker_does_not_know_yet_keeps_409_then_is_released_after_the_grace(send, monkeypatch,
                                                                                        settings):
    def timed_out(self, request):
        raise BrokerUnavailable("read timeout after 10s")

    monkeypatch.setattr(SandboxAdapter, "place_order", timed_out)
    send()
    monkeypatch.undo()
    for _ in range(2):  # the broker neither confirms nor denies it yet: every run leaves it waiting
        startup_sweep()
        tasks.reconcile()
        status, body, retry_after = send()
        assert (status, body["message"], retry_after) == (409, idempotency.RECOVERING, "2")
    assert Order.objects.get().status == LedgerStatus.UNKNOWN

    Order.objects.update(created_at=timezone.now() - timedelta(seconds=settings.RECONCILE_GRACE_SECONDS + 1))
    tasks.reconcile()  # past the grace: never reached the broker, failed; the key is free again
    assert Order.objects.get().status == LedgerStatus.FAILED and not IdempotencyRecord.objects.exists()
    status, body, _ = send()
    assert (status, body) == (200, {"status": "success", "orderid": SandboxOrder.objects.get().orderid})


def _another_live_process_here() -> str:
    parent = os.getppid()
    return f"{HOST}:{parent}:{_start_ticks(parent)}"


@pytest.mark.parametrize("owner", [PROCESS, "live-process-of-this-host", "another-host:42:4242"])
def test_a_record_whose_owner_may_still_run_is_never_settled_by_another(send, kill_at, owner):
    owner = _another_live_process_here() if owner == "live-process-of-this-host" else owner
    kill_at("after_ledger")
    with pytest.raises(Killed):
        send()
    IdempotencyRecord.objects.update(owner=owner)
    Order.objects.update(owner=owner)
    startup_sweep()
    tasks.reconcile()
    record, row = IdempotencyRecord.objects.get(), Order.objects.get()
    assert (record.status_code, record.owner, row.status) == (None, owner, LedgerStatus.SUBMITTING)
    status, body, retry_after = send()
    assert (status, body["message"], retry_after) == (409, idempotency.IN_FLIGHT, "1")


def test_another_hosts_record_is_settled_after_the_grace_counted_from_its_newest_row(send, kill_at, settings):
    kill_at("after_ledger")
    with pytest.raises(Killed):
        send()
    IdempotencyRecord.objects.update(owner="another-host:42:4242",
                                     created_at=timezone.now() - timedelta(seconds=120))
    Order.objects.update(owner="another-host:42:4242", status=LedgerStatus.FAILED)
    assert idempotency.settle_unattended() == {"answered": 0, "released": 0, "pending": 1}  # a row just now
    Order.objects.update(created_at=timezone.now() - timedelta(seconds=settings.RECONCILE_GRACE_SECONDS + 1))
    assert idempotency.settle_unattended() == {"answered": 0, "released": 1, "pending": 0}


def test_an_exception_after_the_ledger_row_leaves_the_record_to_reconciliation(send, settings):
    settings.OPENALGO_FAULT = "after_ledger:raise"
    assert send()[0] == 500
    # A row was written: the record may not simply be forgotten (the broker might have it).
    assert IdempotencyRecord.objects.get().owner == idempotency.ABANDONED
    settings.OPENALGO_FAULT = "after_claim:raise"
    assert send(key="k-2")[0] == 500
    assert not IdempotencyRecord.objects.filter(key="k-2").exists()  # nothing written: forgotten


# --- Several orders in one request ------------------------------------------------------------------

BASKET = {"strategy": "Basket", "orders": [
    {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1"},
    {"symbol": "RELIANCE", "exchange": "NSE", "action": "SELL", "quantity": "1"},
    {"symbol": "SBIN", "exchange": "BSE", "action": "BUY", "quantity": "2"},
]}


def test_a_basket_killed_halfway_answers_what_was_placed_and_what_was_not(send, killed):
    # BUYs go first: NSE:SBIN, BSE:SBIN, then the SELL; killed when the second reached the broker.
    killed("after_broker", "basketorder", BASKET, nth=2)
    assert [(r.symbol, r.exchange, r.request_item, r.status) for r in Order.objects.order_by("pk")] == [
        ("SBIN", "NSE", 1, "complete"), ("SBIN", "BSE", 2, "submitting")]
    assert send("basketorder", BASKET)[0] == 409

    startup_sweep()
    status, body, _ = send("basketorder", BASKET)
    books = {(o.exchange, o.symbol): o.orderid for o in SandboxOrder.objects.all()}
    assert len(books) == 2
    assert (status, body) == (200, {"status": "success", "results": [
        {"symbol": "SBIN", "exchange": "NSE", "product": "MIS", "status": "success", "orderid": books["NSE", "SBIN"]},
        {"symbol": "SBIN", "exchange": "BSE", "product": "MIS", "status": "success", "orderid": books["BSE", "SBIN"]},
        {"symbol": "RELIANCE", "exchange": "NSE", "status": "error", "message": answers.NOT_PLACED}]})
    # An uninterrupted basket answers in the same shape, item for item.
    whole = send("basketorder", BASKET, key="k-2")[1]
    assert [set(r) for r in whole["results"][:2]] == [set(r) for r in body["results"][:2]]
    assert [r["symbol"] for r in whole["results"]] == [r["symbol"] for r in body["results"]]


def test_a_basket_killed_before_its_first_order_reached_the_broker_is_released(send, killed):
    killed("after_ledger", "basketorder", BASKET)
    startup_sweep()
    status, body, _ = send("basketorder", BASKET)
    assert status == 200 and [r["status"] for r in body["results"]] == ["success"] * 3
    assert SandboxOrder.objects.count() == 3


def test_a_split_killed_halfway_answers_every_part(send, killed):
    split = {**BUY, "quantity": "10", "splitsize": "3"}
    killed("after_ledger", "splitorder", split, nth=3)  # parts 1 and 2 placed, 3 written, 4 never
    startup_sweep()
    status, body, _ = send("splitorder", split)
    placed = [o.orderid for o in SandboxOrder.objects.order_by("pk")]
    assert (status, body) == (200, {"status": "success", "total_quantity": 10, "split_size": 3, "results": [
        {"order_num": 1, "quantity": 3, "status": "success", "orderid": placed[0]},
        {"order_num": 2, "quantity": 3, "status": "success", "orderid": placed[1]},
        {"order_num": 3, "quantity": 3, "status": "error", "message": reconcile.NEVER_SENT},
        {"order_num": 4, "quantity": 1, "status": "error", "message": answers.NOT_PLACED}]})
    assert len(placed) == 2
    whole = send("splitorder", split, key="k-2")[1]
    assert set(whole) == set(body) and [set(r) for r in whole["results"][:2]] == [
        set(r) for r in body["results"][:2]]


@pytest.mark.django_db(transaction=True)
def test_a_live_broker_basket_links_orders_placed_on_pool_threads(user, market, monkeypatch):
    """Live brokers get basket batches on threads: their rows are linked all the same."""
    monkeypatch.setattr(SandboxAdapter, "capabilities", replace(SandboxAdapter.capabilities, paper=False))
    record = IdempotencyRecord.objects.create(user=user, key="live", endpoint="basketorder", request_hash="x",
                                              owner=PROCESS)
    requests = [OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=action, quantity=Decimal(1),
                             product=Product.MIS, pricetype=PriceType.MARKET) for action in (Action.SELL, Action.BUY)]
    with idempotency.Running(record):
        results = services.place_basket(user=user, requests=requests)
    assert [r["status"] for r in results] == ["success", "success"]
    assert sorted(Order.objects.values_list("request_item", "action", "idempotency")) == [
        (1, "BUY", record.pk), (2, "SELL", record.pk)]


def test_the_fault_hook_fails_only_the_nth_pass_of_its_point(settings, monkeypatch):
    monkeypatch.setattr(faults, "_passes", {})
    settings.OPENALGO_FAULT = "after_claim:raise@2"
    faults.hit("after_ledger")  # another point: not counted
    faults.hit("after_claim")
    with pytest.raises(faults.FaultInjected):
        faults.hit("after_claim")
    faults.hit("after_claim")  # only the 2nd
