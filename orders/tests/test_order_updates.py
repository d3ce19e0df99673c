"""Orders that move at a live broker on their own (a resting order filled or cancelled at
the exchange) reach the ledger and the one order event by polling the broker's book:
once per move, at a bounded rate, one reader per account, and a failing broker backs off."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.services import store_broker_app_credentials, store_broker_session
from brokers.fakelive import testing as fakelive
from orders import events
from orders.models import LedgerStatus, Order, OrderPoll
from orders.order_updates import OrderBookPoller

RESTING_BUY = {"strategy": "Poll", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "2",
               "pricetype": "LIMIT", "price": "700", "product": "MIS"}


@pytest.fixture
def announced(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "publish_now", lambda user_id, message: sent.append((user_id, message)))
    return sent


@pytest.fixture
def logged_in(user, fakelive_market):
    """The trader logged in at FakeLive (the newest live session serves their orders)."""
    store_broker_app_credentials(user=user, broker="fakelive", api_key=fakelive.API_KEY,
                                 api_secret=fakelive.API_SECRET)
    store_broker_session(user=user, broker="fakelive", access_token=fakelive.TOKEN, client_id="FL01")
    return fakelive_market


@pytest.fixture
def resting_order(logged_in, api_call):
    """A limit buy below the market, placed through the API: open at FakeLive and in the ledger."""
    status, body = api_call("placeorder", **RESTING_BUY)
    assert status == 200, body
    row = Order.objects.get()
    assert (row.broker, row.status, row.broker_order_id) == ("fakelive", LedgerStatus.OPEN, body["orderid"])
    logged_in.calls.clear()
    return row


def _book_reads(exchange) -> int:
    return exchange.calls.count("GET /orders")


def _later(seconds: float = 60):
    """A clock this many seconds ahead: every account is due again."""
    return lambda: timezone.now() + timedelta(seconds=seconds)


def test_a_fill_at_the_broker_completes_the_ledger_row_and_is_announced_once(
        resting_order, logged_in, announced, django_capture_on_commit_callbacks):
    poller = OrderBookPoller()
    with django_capture_on_commit_callbacks(execute=True):
        assert poller.poll_once().changed == 0  # nothing moved yet
    assert announced == []

    logged_in.fill(resting_order.broker_order_id, price=Decimal("699.5"))
    with django_capture_on_commit_callbacks(execute=True):
        OrderBookPoller(clock=_later()).poll_once()
    resting_order.refresh_from_db()
    assert (resting_order.status, resting_order.filled_quantity, resting_order.average_price) == (
        LedgerStatus.COMPLETE, 2, Decimal("699.5"))
    assert [(uid, msg["orderid"], msg["order_status"]) for uid, msg in announced] == [
        (resting_order.user_id, resting_order.broker_order_id, "complete")]

    with django_capture_on_commit_callbacks(execute=True):
        OrderBookPoller(clock=_later(120)).poll_once()
    assert len(announced) == 1  # the row is terminal now: no read, no second event
    assert _book_reads(logged_in) == 2


def test_a_partial_fill_then_a_cancellation_are_two_events(
        resting_order, logged_in, announced, django_capture_on_commit_callbacks):
    logged_in.fill(resting_order.broker_order_id, quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert OrderBookPoller().poll_once().changed == 1
    resting_order.refresh_from_db()
    assert (resting_order.status, resting_order.filled_quantity) == (LedgerStatus.OPEN, 1)

    logged_in.cancel(resting_order.broker_order_id)
    with django_capture_on_commit_callbacks(execute=True):
        OrderBookPoller(clock=_later()).poll_once()
    resting_order.refresh_from_db()
    assert resting_order.status == LedgerStatus.CANCELLED
    assert [msg["order_status"] for _, msg in announced] == ["open", "cancelled"]


def test_an_account_is_read_at_most_once_per_interval(resting_order, logged_in):
    poller = OrderBookPoller(interval=2)
    assert poller.poll_once().polled == 1
    assert poller.poll_once().polled == 0  # due again in 2 s, not now
    assert OrderBookPoller(interval=2, clock=_later(3)).poll_once().polled == 1
    assert _book_reads(logged_in) == 2


def test_two_pollers_sharing_the_lease_read_the_book_once(resting_order, logged_in):
    first, second = OrderBookPoller(), OrderBookPoller()
    assert first.holder != second.holder
    assert first.poll_once().polled + second.poll_once().polled == 1
    assert _book_reads(logged_in) == 1


def test_a_claim_held_by_another_process_is_not_read_until_its_lease_lapses(resting_order, logged_in):
    OrderPoll.objects.create(user_id=resting_order.user_id, broker="fakelive", holder="other:1:1",
                             due_at=timezone.now() + timedelta(seconds=30))
    assert OrderBookPoller().poll_once().polled == 0
    assert OrderBookPoller(clock=_later(31)).poll_once().polled == 1
    assert _book_reads(logged_in) == 1


def test_a_user_without_working_orders_costs_no_broker_call(resting_order, logged_in, make_user):
    resting_order.status = LedgerStatus.CANCELLED
    resting_order.save()
    idle = make_user("idle")
    store_broker_session(user=idle, broker="fakelive", access_token=fakelive.TOKEN, client_id="FL02")
    assert OrderBookPoller().poll_once().polled == 0
    assert logged_in.calls == []


def test_an_order_at_a_broker_whose_session_expired_is_not_polled(resting_order, logged_in, user):
    user.broker_credentials.update(token_expires_at=timezone.now() - timedelta(minutes=1))
    assert OrderBookPoller().poll_once().polled == 0
    assert logged_in.calls == []


@pytest.mark.parametrize("failure", ["timeout", "5xx", "malformed", "disconnect"])
def test_a_failing_broker_backs_off_without_raising(failure, resting_order, logged_in, caplog):
    logged_in.fail_next(failure)
    with caplog.at_level(logging.WARNING, logger="orders.order_updates"):
        outcome = OrderBookPoller(interval=2).poll_once()
    assert (outcome.polled, outcome.failed) == (1, 1)
    poll = OrderPoll.objects.get()
    assert poll.failures == 1 and poll.last_error
    assert "could not be read" in caplog.text
    assert OrderBookPoller(interval=2, clock=_later(3)).poll_once().polled == 0  # backed off past 2 s
    assert OrderBookPoller(interval=2, clock=_later(5)).poll_once().failed == 0  # and read again after
    assert OrderPoll.objects.get().failures == 0


def test_a_429_waits_for_the_brokers_retry_after(resting_order, logged_in):
    logged_in.fail_next("429")  # Retry-After: 7
    assert OrderBookPoller(interval=2).poll_once().failed == 1
    assert OrderBookPoller(interval=2, clock=_later(6)).poll_once().polled == 0
    assert OrderBookPoller(interval=2, clock=_later(8)).poll_once().polled == 1


def test_an_expired_session_backs_off_long_and_the_round_goes_on_to_the_next_account(
        resting_order, logged_in, make_user):
    other = make_user("other")
    store_broker_session(user=other, broker="fakelive", access_token=fakelive.TOKEN, client_id="FL02")
    Order.objects.create(user=other, broker="fakelive", symbol="SBIN", exchange="NSE", action="BUY", quantity=1,
                         product="MIS", pricetype="LIMIT", price=700, status=LedgerStatus.OPEN,
                         broker_order_id="elsewhere")
    logged_in.fail_next("expired")  # the first account read (the lower user id) finds its token revoked
    outcome = OrderBookPoller().poll_once()
    assert (outcome.polled, outcome.failed) == (2, 2)  # the token is the exchange's, revoked for both
    assert all(poll.failures == 1 for poll in OrderPoll.objects.all())
    assert OrderBookPoller(clock=_later(120)).poll_once().polled == 0


def test_an_unknown_row_is_settled_from_the_book(logged_in, user, announced, django_capture_on_commit_callbacks):
    row = Order.objects.create(user=user, broker="fakelive", symbol="SBIN", exchange="NSE", action="BUY",
                               quantity=1, product="MIS", pricetype="MARKET", status=LedgerStatus.UNKNOWN)
    logged_in.orders["42"] = {
        "order_id": "42", "tradingsymbol": "SBIN-EQ", "exchange": "NSE", "instrument_token": "3045",
        "transaction_type": "B", "quantity": 1, "filled_quantity": 1, "price": "0", "trigger_price": "0",
        "average_price": "800", "order_type": "MKT", "product": "I", "status": "COMPLETE", "status_message": "",
        "order_timestamp": timezone.now().isoformat(), "tag": f"oa{row.pk}"}
    with django_capture_on_commit_callbacks(execute=True):
        assert OrderBookPoller().poll_once().changed == 1
    row.refresh_from_db()
    assert (row.status, row.broker_order_id, row.filled_quantity) == (LedgerStatus.COMPLETE, "42", 1)
    assert len(announced) == 1


def test_the_beat_task_polls_through_the_same_lease(resting_order, logged_in):
    from orders import tasks

    assert tasks.poll_order_updates() == 1
    assert tasks.poll_order_updates() == 0
    assert _book_reads(logged_in) == 1


@pytest.mark.parametrize("source", ["push", "postback"])
def test_a_broker_that_tells_us_is_still_read_but_only_at_the_safety_interval(resting_order, logged_in, source,
                                                                             monkeypatch, settings):
    """A socket that was down or a lost postback must not leave an order stale for ever."""
    from dataclasses import replace

    from brokers import registry
    from brokers.base import OrderUpdateSource
    from brokers.fakelive.adapter import FakeLiveAdapter

    class Telling(FakeLiveAdapter):
        capabilities = replace(FakeLiveAdapter.capabilities, order_updates=OrderUpdateSource(source))

    monkeypatch.setitem(registry._factories, "fakelive", Telling)
    settings.ORDER_SAFETY_POLL_SECONDS = 60
    poller = OrderBookPoller(interval=2)
    assert poller.poll_once().polled == 1
    assert OrderBookPoller(interval=2, clock=_later(3)).poll_once().polled == 0  # not due at the POLL interval
    assert OrderBookPoller(interval=2, clock=_later(61)).poll_once().polled == 1
    settings.ORDER_SAFETY_POLL_SECONDS = 0
    assert OrderBookPoller(interval=2, clock=_later(200)).poll_once().polled == 0  # the safety net switched off


# --- What a poll writes -----------------------------------------------------------------------


def _writes(captured) -> list[str]:
    """Statements that write or lock (a locking read is a write transaction's start)."""
    return [q["sql"] for q in captured.captured_queries
            if q["sql"].lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")
            or "FOR UPDATE" in q["sql"].upper()]


def _updated_table(sql: str) -> str:
    """The table an UPDATE names, without the vendor's quoting ("t" on PostgreSQL/SQLite, `t` on MySQL)."""
    verb, table = sql.split()[:2]
    assert verb.upper() == "UPDATE", sql
    return table.strip('"`').upper()


def test_a_poll_that_finds_nothing_changed_writes_only_its_lease(resting_order, logged_in):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert OrderBookPoller().poll_once().polled == 1  # the account's first poll inserts its row
    with CaptureQueriesContext(connection) as captured:
        outcome = OrderBookPoller(clock=_later()).poll_once()
    assert (outcome.polled, outcome.changed) == (1, 0)
    writes = _writes(captured)
    poll_table = OrderPoll._meta.db_table.upper()
    assert len(writes) == 2 and all(_updated_table(sql) == poll_table for sql in writes), \
        writes  # the claim and the release, nothing for the unchanged order
    resting_order.refresh_from_db()
    assert resting_order.status == LedgerStatus.OPEN


def test_a_round_with_no_account_due_writes_nothing(resting_order, logged_in):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    poller = OrderBookPoller(interval=2)
    assert poller.poll_once().polled == 1
    with CaptureQueriesContext(connection) as captured:
        assert poller.poll_once().polled == 0
    assert _writes(captured) == []


def test_news_the_ledger_already_has_takes_no_lock(resting_order, logged_in, announced):
    """A pushed or polled update that says what the ledger says (a repeated push) neither
    locks the row nor writes: it is decided on an unlocked read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from brokers.signals import order_changed

    [order] = [o for o in logged_in_book(resting_order) if o.orderid == resting_order.broker_order_id]
    with CaptureQueriesContext(connection) as captured:
        order_changed.send(sender="fakelive", user_id=resting_order.user_id, order=order, paper=False)
    assert _writes(captured) == [] and announced == []
    logged_in.fill(resting_order.broker_order_id, price=Decimal("699.5"))
    [filled] = [o for o in logged_in_book(resting_order) if o.orderid == resting_order.broker_order_id]
    order_changed.send(sender="fakelive", user_id=resting_order.user_id, order=filled, paper=False)
    resting_order.refresh_from_db()
    assert resting_order.status == LedgerStatus.COMPLETE  # news it did not have: locked and written


def logged_in_book(row):
    from accounts.selectors import live_sessions
    from brokers import registry

    (user, credentials), = live_sessions("fakelive", [row.user_id]).values()
    return registry.build("fakelive", user, credentials).order_book()
