"""The order service without the API in front: a webhook-style caller gets the answer
the API would give, an idempotency key never makes a second order, and an Action
Center approval runs the very path the request would have run."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.enums import Action, Exchange, PriceType, Product
from brokers.sandbox.models import SandboxOrder
from orders import actioncenter, services
from orders.models import Order, PendingOrder
from orders.services import OrderPath

ORDER = {"strategy": "Hook", "symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY,
         "quantity": Decimal(10), "pricetype": PriceType.MARKET, "product": Product.MIS, "price": Decimal(0),
         "trigger_price": Decimal(0), "disclosed_quantity": 0}


@pytest.fixture
def trader(user, market):
    return user


def test_a_webhook_places_through_the_same_path_and_the_ledger_says_who_asked(trader):
    outcome = services.submit_order_request(user=trader, path=OrderPath.PLACE, data=ORDER, source="webhook")
    assert outcome.status == 200 and outcome.succeeded
    assert set(outcome.body) == {"status", "orderid"}
    assert Order.objects.get().source == "webhook"


def test_a_repeated_idempotency_key_answers_the_first_outcome_without_a_second_order(trader):
    first = services.submit_order_request(user=trader, path=OrderPath.PLACE, data=ORDER, source="webhook",
                                          idempotency_key="alert-1")
    again = services.submit_order_request(user=trader, path=OrderPath.PLACE, data=ORDER, source="webhook",
                                          idempotency_key="alert-1")
    assert again == first
    assert SandboxOrder.objects.count() == 1


def test_a_refusal_is_an_outcome_in_the_api_shape_not_an_exception(trader):
    outcome = services.submit_order_request(user=trader, path=OrderPath.PLACE, data={**ORDER, "symbol": "NOPE"})
    assert (outcome.status, outcome.body) == (400, {"status": "error", "message": "Symbol NOPE not found on NSE"})
    assert not outcome.succeeded


def test_approving_a_queued_split_answers_what_the_split_request_would_have(trader):
    trader.order_mode = "semi_auto"
    trader.save()
    data = {**ORDER, "quantity": Decimal(25), "splitsize": 10}
    queued = services.submit_order_request(user=trader, path=OrderPath.SPLIT, data=data)
    assert queued.body["mode"] == "semi_auto" and not SandboxOrder.objects.exists()
    approved = actioncenter.approve(user=trader, pending_id=queued.body["pending_order_id"])
    assert approved.state == PendingOrder.State.APPROVED
    assert (approved.result["total_quantity"], approved.result["split_size"]) == (25, 10)
    assert [r["quantity"] for r in approved.result["results"]] == [10, 10, 5]
    assert sorted(SandboxOrder.objects.values_list("quantity", flat=True)) == [5, 10, 10]


def test_approving_a_queued_smart_order_reads_the_position_at_approval(trader):
    trader.order_mode = "semi_auto"
    trader.save()
    data = {**ORDER, "quantity": Decimal(0), "position_size": Decimal(0)}
    queued = services.submit_order_request(user=trader, path=OrderPath.SMART, data=data)
    approved = actioncenter.approve(user=trader, pending_id=queued.body["pending_order_id"])
    assert approved.result == {"status": "success", "message": services.NO_POSITION_TO_EXIT}


def test_semi_auto_refuses_a_sweep_before_touching_the_broker(trader):
    trader.order_mode = "semi_auto"
    trader.save()
    outcome = services.submit_order_request(user=trader, path=OrderPath.CLOSE, data={"strategy": "Hook"})
    assert outcome.status == 403
    assert outcome.body["message"] == ("Close position operation is not allowed in Semi-Auto mode. Please switch "
                                       "to Auto mode to close position.")
