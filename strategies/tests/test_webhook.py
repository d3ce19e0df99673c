"""POST /strategy/webhook/<id> (spec §11.2): its rules per mode, its answers and error
texts, and what an accepted alert places once a worker runs it."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client

from orders.models import Order, PendingOrder
from orders.services import adapter_for
from strategies import services, tasks
from strategies.models import Alert, Strategy

pytestmark = pytest.mark.django_db


def net(user, symbol: str = "SBIN") -> Decimal:
    for position in adapter_for(user).positions():
        if position.symbol == symbol:
            return position.quantity
    return Decimal(0)


def run(queued: list[int]) -> list[Alert]:
    """What the worker does with every queued alert."""
    done = []
    while queued:
        alert_id = queued.pop(0)
        assert services.execute(alert_id) == services.DONE
        done.append(Alert.objects.get(pk=alert_id))
    return done


# --- Answers and error texts ---------------------------------------------------------------------


def test_a_long_entry_is_accepted_written_before_the_answer_and_placed_by_the_worker(
        client, strategy, market, clock, queued, user):
    response = client.post(f"/strategy/webhook/{strategy.webhook_id}",
                           data=json.dumps({"symbol": "SBIN", "action": "BUY"}), content_type="application/json")
    assert response.status_code == 200
    assert response.content == b'{"message":"Order queued successfully for SBIN"}'
    [alert] = Alert.objects.all()
    assert alert.state == Alert.State.RECEIVED and queued == [alert.pk]
    assert alert.orders == [{"path": "placeorder", "data": {
        "strategy": "Trend", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10",
        "product": "MIS", "pricetype": "MARKET", "price": "0", "trigger_price": "0", "disclosed_quantity": 0}}]
    assert not Order.objects.exists()  # no broker call in the request
    [alert] = run(queued)
    order = Order.objects.get()
    assert (order.strategy, order.source, order.quantity, order.status) == ("Trend", "webhook", 10, "complete")
    assert alert.state == Alert.State.EXECUTED and alert.order_ids == [order.broker_order_id]
    assert net(user) == 10


def test_a_long_entry_trades_the_absolute_position_size_when_given(hook, strategy, market, clock, queued, user):
    assert hook(strategy, {"symbol": "SBIN", "action": "buy", "position_size": "-7"})[0] == 200
    run(queued)
    assert net(user) == 7


def test_a_long_exit_is_a_smart_order_to_flat(hook, strategy, market, clock, queued, user):
    hook(strategy, {"symbol": "SBIN", "action": "BUY"})
    run(queued)
    status, body = hook(strategy, {"symbol": "SBIN", "action": "SELL"})
    assert (status, body) == (200, {"message": "Order queued successfully for SBIN"})
    alert = Alert.objects.latest("pk")
    assert alert.orders[0]["path"] == "placesmartorder"
    assert (alert.orders[0]["data"]["quantity"], alert.orders[0]["data"]["position_size"]) == ("0", "0")
    run(queued)
    assert net(user) == 0
    assert Order.objects.filter(strategy="Trend", action="SELL", quantity=10).exists()


def test_a_short_strategy_enters_on_sell_and_exits_on_buy(hook, make_strategy, market, clock, queued, user):
    strategy = make_strategy(direction=Strategy.Direction.SHORT, symbols=[("SBIN", "NSE", 4, "MIS")])
    hook(strategy, {"symbol": "SBIN", "action": "SELL"})
    run(queued)
    assert net(user) == -4
    hook(strategy, {"symbol": "SBIN", "action": "BUY"})
    [alert] = run(queued)
    assert alert.orders[0]["path"] == "placesmartorder" and net(user) == 0


def test_both_mode_sends_a_smart_order_to_the_given_position(hook, make_strategy, market, clock, queued, user):
    strategy = make_strategy(direction=Strategy.Direction.BOTH, symbols=[("SBIN", "NSE", 3, "MIS")])
    assert hook(strategy, {"symbol": "SBIN", "action": "BUY", "position_size": "6"})[0] == 200
    [alert] = run(queued)
    assert alert.orders[0]["path"] == "placesmartorder"
    assert (alert.orders[0]["data"]["quantity"], alert.orders[0]["data"]["position_size"]) == ("3", "6")
    assert net(user) == 6
    hook(strategy, {"symbol": "SBIN", "action": "SELL", "position_size": "-2"})
    run(queued)
    assert net(user) == -2
    hook(strategy, {"symbol": "SBIN", "action": "SELL", "position_size": "0"})
    [alert] = run(queued)
    assert alert.orders[0]["data"]["quantity"] == "0" and net(user) == 0


@pytest.mark.parametrize(("body", "error"), [
    ({"symbol": "SBIN", "action": "BUY"}, "Missing required fields: position_size"),
    ({"action": "BUY"}, "Missing required fields: symbol, position_size"),
    ({"symbol": "SBIN", "action": "BUY", "position_size": "-1"},
     "For BUY orders in BOTH mode, position_size must be 0 or more"),
    ({"symbol": "SBIN", "action": "SELL", "position_size": "5"},
     "For SELL orders in BOTH mode, position_size must be 0 or less"),
])
def test_both_mode_refusals(hook, make_strategy, clock, queued, body, error):
    strategy = make_strategy(direction=Strategy.Direction.BOTH)
    assert hook(strategy, body) == (400, {"error": error})
    assert queued == []
    assert Alert.objects.get().reason == error


def test_accepting_an_alert_takes_one_read_and_one_short_transaction(
        client, strategy, clock, queued, django_assert_max_num_queries):
    """The strategy and its symbol map in one query; then the transaction that
    locks the strategy, looks for a duplicate and writes the alert (BEGIN and COMMIT count)."""
    client.post(f"/strategy/webhook/{strategy.webhook_id}", data=json.dumps({"symbol": "SBIN", "action": "BUY"}),
                content_type="application/json")
    with django_assert_max_num_queries(6):
        response = client.post(f"/strategy/webhook/{strategy.webhook_id}",
                               data=json.dumps({"symbol": "RELIANCE", "action": "BUY"}),
                               content_type="application/json")
    assert response.json() == {"message": "Order queued successfully for RELIANCE"}
    assert Alert.objects.filter(state=Alert.State.RECEIVED).count() == 2


def test_an_accepted_alert_goes_to_the_worker_once_the_answer_is_sent(strategy, clock, queued):
    """The server closes a response after sending its body: only then is the alert queued,
    so the sender never waits on the task queue. A refusal queues nothing."""
    from django.test import RequestFactory

    from strategies.views import strategy_webhook

    def post(body: dict):
        request = RequestFactory().post(f"/strategy/webhook/{strategy.webhook_id}", data=json.dumps(body),
                                        content_type="application/json")
        return strategy_webhook(request, str(strategy.webhook_id))

    response = post({"symbol": "SBIN", "action": "BUY"})
    alert = Alert.objects.get()
    assert (response.status_code, alert.state, queued) == (200, Alert.State.RECEIVED, [])  # committed, not yet queued
    refused = post({"symbol": "TCS", "action": "BUY"})
    assert refused.status_code == 400
    # (closing a response ends the request, and with it the test's database connection: last)
    refused.close()
    assert queued == []
    response.close()
    assert queued == [alert.pk]


def test_a_strategy_without_a_symbol_map_is_found_and_refuses_the_symbol(hook, make_strategy, clock, queued):
    empty = make_strategy(name="Empty", symbols=())
    status, answer = hook(empty, {"symbol": "SBIN", "action": "BUY"})
    assert status == 400 and "SBIN" in answer["error"], answer
    assert Alert.objects.get().state == Alert.State.REFUSED


def test_unknown_and_malformed_webhook_ids_are_404(hook, strategy):
    assert hook(uuid.uuid4(), {"symbol": "SBIN", "action": "BUY"}) == (404, {"error": "Invalid webhook ID"})
    assert hook("not-a-uuid", {"symbol": "SBIN", "action": "BUY"}) == (404, {"error": "Invalid webhook ID"})


def test_an_inactive_strategy_refuses_and_logs_the_alert(hook, make_strategy, clock, queued):
    strategy = make_strategy(enabled=False)
    assert hook(strategy, {"symbol": "SBIN", "action": "BUY"}) == (400, {"error": "Strategy is inactive"})
    alert = Alert.objects.get()
    assert (alert.state, alert.reason, queued) == (Alert.State.REFUSED, "Strategy is inactive", [])


@pytest.mark.parametrize(("body", "error"), [
    ({}, "Missing required fields: symbol, action"),
    ({"symbol": "SBIN"}, "Missing required fields: action"),
    ({"symbol": "", "action": "BUY"}, "Missing required fields: symbol"),
    ({"symbol": "TCS", "action": "BUY"}, "No mapping found for symbol TCS"),
    ({"symbol": "SBIN", "action": "HOLD"}, "Invalid action: use BUY or SELL"),
    ({"symbol": "SBIN", "action": "BUY", "position_size": "ten"}, "Invalid position_size: must be a number"),
    ({"symbol": "SBIN", "action": "BUY", "position_size": "10.5"},
     "Fractional position_size (10.5) is not allowed for non-crypto exchanges"),
])
def test_bad_alerts_get_the_error_and_are_logged_as_refused(hook, strategy, clock, queued, body, error):
    assert hook(strategy, body) == (400, {"error": error})
    assert Alert.objects.get().state == Alert.State.REFUSED and queued == []


@pytest.mark.parametrize("raw", ["BUY SBIN", "", "[1, 2]", '{"symbol": "SBIN",'])
def test_plain_text_and_malformed_bodies_get_a_clear_400(hook, strategy, clock, queued, raw):
    status, body = hook(strategy, raw, content_type="text/plain")
    assert status == 400 and set(body) == {"error"}
    assert body["error"] == "No data received" if not raw else body["error"].startswith("Invalid JSON body")
    assert queued == []


def test_tradingview_bodies_in_text_plain_with_lower_case_and_float_sizes_are_accepted(
        hook, strategy, market, clock, queued, user):
    body = '{"symbol": "SBIN", "action": "buy", "position_size": "3.0", "comment": "{{strategy.order.comment}}"}'
    assert hook(strategy, body, content_type="text/plain") == (200, {"message": "Order queued successfully for SBIN"})
    run(queued)
    assert net(user) == 3


def test_the_webhook_needs_no_session_nor_csrf_token_and_takes_a_trailing_slash(strategy, clock, queued):
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/strategy/webhook/{strategy.webhook_id}/", data='{"symbol":"SBIN","action":"BUY"}',
                           content_type="application/json")
    assert response.status_code == 200 and len(queued) == 1


def test_a_get_is_405(client, strategy):
    response = client.get(f"/strategy/webhook/{strategy.webhook_id}")
    assert response.status_code == 405
    assert response.json() == {"message": "The method is not allowed for the requested URL."}


def test_the_webhook_rate_limit_answers_429(hook, strategy, clock, queued, settings):
    settings.WEBHOOK_RATE_LIMIT = "3 per minute"
    for size in range(3):
        assert hook(strategy, {"symbol": "SBIN", "action": "BUY", "position_size": str(size + 1)})[0] == 200
    status, body = hook(strategy, {"symbol": "SBIN", "action": "BUY", "position_size": "9"})
    assert status == 429 and body["error"] == "Rate limit exceeded. Please slow down your requests."
    assert "status" not in body and body["retry_after"] >= 1


# --- Trading window ------------------------------------------------------------------------------


def test_an_entry_outside_the_window_is_refused_and_logged(hook, strategy, clock, queued):
    clock.set(8, 30)
    error = "Entry orders are allowed only between 09:15 and 15:00 IST"
    assert hook(strategy, {"symbol": "SBIN", "action": "BUY"}) == (400, {"error": error})
    clock.set(15, 0)
    assert hook(strategy, {"symbol": "SBIN", "action": "BUY", "position_size": "2"}) == (400, {"error": error})
    assert list(Alert.objects.values_list("state", "reason")) == [("refused", error)] * 2
    assert queued == []


def test_exits_are_taken_until_the_square_off_time_only(hook, strategy, clock, queued):
    clock.set(15, 10)
    assert hook(strategy, {"symbol": "SBIN", "action": "SELL"})[0] == 200
    clock.set(15, 15)
    assert hook(strategy, {"symbol": "RELIANCE", "action": "SELL"}) == (
        400, {"error": "Exit orders are not allowed after the square-off time (15:15 IST)"})
    assert len(queued) == 1


def test_a_positional_strategy_has_no_window(hook, make_strategy, clock, queued):
    strategy = make_strategy(kind=Strategy.Kind.POSITIONAL)
    clock.set(20, 0)
    assert hook(strategy, {"symbol": "SBIN", "action": "BUY"})[0] == 200


# --- Duplicates ----------------------------------------------------------------------------------


def test_a_retried_alert_is_answered_as_success_logged_as_duplicate_and_places_once(
        hook, strategy, market, clock, queued, user):
    body = {"symbol": "SBIN", "action": "BUY"}
    assert hook(strategy, body) == hook(strategy, body) == (200, {"message": "Order queued successfully for SBIN"})
    first, second = Alert.objects.order_by("pk")
    assert (first.state, second.state, second.duplicate_of_id) == ("received", "duplicate", first.pk)
    run(queued)
    assert Order.objects.count() == 1 and net(user) == 10


def test_the_same_body_after_the_duplicate_window_is_a_new_alert(hook, strategy, clock, queued, settings):
    settings.WEBHOOK_DUPLICATE_SECONDS = 30
    body = {"symbol": "SBIN", "action": "BUY"}
    hook(strategy, body)
    Alert.objects.update(received_at=Alert.objects.get().received_at - timedelta(seconds=31))
    hook(strategy, body)
    assert len(queued) == 2


def test_an_idempotency_key_makes_a_retry_a_duplicate_whatever_its_body(hook, strategy, clock, queued):
    hook(strategy, {"symbol": "SBIN", "action": "BUY"}, HTTP_IDEMPOTENCY_KEY="tv-1")
    status, _ = hook(strategy, {"symbol": "SBIN", "action": "BUY", "position_size": "2"},
                     HTTP_IDEMPOTENCY_KEY="tv-1")
    assert status == 200 and len(queued) == 1
    hook(strategy, {"symbol": "SBIN", "action": "BUY", "position_size": "2"}, HTTP_IDEMPOTENCY_KEY="tv-2")
    assert len(queued) == 2


def test_running_an_alert_again_places_nothing_new(hook, strategy, market, clock, queued, user):
    hook(strategy, {"symbol": "SBIN", "action": "BUY"})
    alert_id = queued[0]
    run(queued)
    # A redelivered message after the alert finished: nothing to do.
    assert services.execute(alert_id) == services.DONE
    # A worker that died after placing, before recording it: the ledger's idempotency answers.
    Alert.objects.filter(pk=alert_id).update(state=Alert.State.RUNNING, order_ids=[])
    assert services.execute(alert_id) == services.DONE
    alert = Alert.objects.get(pk=alert_id)
    assert Order.objects.count() == 1 and alert.order_ids == [Order.objects.get().broker_order_id]
    assert net(user) == 10


def test_unfinished_alerts_are_found_for_the_recovery_sweep(hook, strategy, clock, queued):
    hook(strategy, {"symbol": "SBIN", "action": "BUY"})
    [alert_id] = queued
    assert services.unfinished() == []  # just accepted: its worker has time
    assert services.unfinished(older_than=timedelta(0)) == [alert_id]
    Alert.objects.filter(pk=alert_id).update(received_at=Alert.objects.get().received_at - timedelta(minutes=1))
    assert services.unfinished() == [alert_id]


# --- Secret --------------------------------------------------------------------------------------


def test_a_strategy_with_a_secret_takes_the_header_or_an_hmac_of_the_body(hook, make_strategy, clock, queued):
    strategy = make_strategy(secret="s3cret")
    body = json.dumps({"symbol": "SBIN", "action": "BUY"})
    refused = (401, {"error": "Invalid webhook secret or signature"})
    assert hook(strategy, body) == refused
    assert hook(strategy, body, HTTP_X_WEBHOOK_SECRET="wrong") == refused
    assert hook(strategy, body, HTTP_X_SIGNATURE="00" * 32) == refused
    assert hook(strategy, body, HTTP_X_WEBHOOK_SECRET="s3cret")[0] == 200
    signature = hmac.new(b"s3cret", body.replace("BUY", "buy").encode(), hashlib.sha256).hexdigest()
    assert hook(strategy, body.replace("BUY", "buy"), HTTP_X_SIGNATURE=signature)[0] == 200
    assert hook(strategy, body.replace("SBIN", "RELIANCE"), HTTP_X_SIGNATURE=f"sha256={signature}") == refused
    assert len(queued) == 2


# --- Semi-auto -----------------------------------------------------------------------------------


def test_a_semi_auto_strategy_queues_its_orders_in_the_action_center(hook, make_strategy, market, clock, queued,
                                                                       user):
    strategy = make_strategy(mode=Strategy.Mode.SEMI_AUTO)
    hook(strategy, {"symbol": "SBIN", "action": "BUY"})
    [alert] = run(queued)
    pending = PendingOrder.objects.get()
    assert (pending.endpoint, pending.strategy, pending.payload["quantity"]) == ("placeorder", "Trend", "10")
    assert alert.state == Alert.State.EXECUTED and alert.order_ids == [str(pending.pk)]
    assert not Order.objects.exists()


# --- Recovery and the hot path -------------------------------------------------------------------


def test_the_recovery_sweep_and_a_starting_worker_queue_unfinished_alerts(hook, strategy, clock, queued,
                                                                          monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(tasks, "send_alert", sent.append)
    hook(strategy, {"symbol": "SBIN", "action": "BUY"})
    [alert_id] = queued
    assert tasks.requeue_alerts() == 0  # younger than the sweep's patience
    tasks.requeue_on_start()  # a worker starting now takes everything unfinished
    assert sent == [alert_id]
    Alert.objects.filter(pk=alert_id).update(received_at=Alert.objects.get().received_at - timedelta(minutes=2))
    assert tasks.requeue_alerts() == 1 and sent == [alert_id, alert_id]


def test_accepting_an_alert_is_a_handful_of_queries(hook, strategy, clock, queued, django_assert_max_num_queries):
    # strategy, symbol map, then one transaction: lock, duplicate check, insert.
    with django_assert_max_num_queries(7):
        assert hook(strategy, {"symbol": "SBIN", "action": "BUY"})[0] == 200


@pytest.mark.parametrize("raw", [
    '{"symbol": "SBIN", "action": "BUY", "price": NaN}',
    '{"symbol": "SB\\u0000IN", "action": "BUY"}',
    "[" * 100_000,
])
def test_bodies_the_database_could_not_keep_are_refused_not_a_500(hook, strategy, clock, queued, raw):
    status, body = hook(strategy, raw)
    assert status == 400 and body["error"].startswith("Invalid JSON body")
    assert Alert.objects.get().state == Alert.State.REFUSED


def test_a_bad_idempotency_key_and_a_huge_body_are_refused(hook, strategy, clock, queued, settings):
    assert hook(strategy, {"symbol": "SBIN", "action": "BUY"}, HTTP_IDEMPOTENCY_KEY="k" * 129) == (
        400, {"error": "Idempotency-Key must be 1 to 128 printable characters"})
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert hook(strategy, {"symbol": "SBIN", "action": "BUY", "comment": "x" * 2000}) == (
        413, {"error": "Request body too large"})
    assert queued == []
