"""The paper exchange's GTT: the trigger rules, firing on ticks (SINGLE and OCO), exactly
once under racing firers, and triggers that outlive the engine that was watching them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from brokers.base import BrokerRejected
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.gtt import GttPriceUnavailable, GttRequest, GttStatus, GttTriggerNotFound, GttType
from brokers.sandbox import clock, exchange, gtt
from brokers.sandbox.adapter import SandboxAdapter
from brokers.sandbox.engine import FillEngine
from brokers.sandbox.models import SandboxGtt, SandboxOrder
from brokers.sandbox.tests.test_engine import tick
from brokers.signals import order_changed

D = Decimal


def single(**changes) -> GttRequest:
    fields = {"trigger_type": GttType.SINGLE, "symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY,
              "product": Product.CNC, "quantity": D(5), "pricetype": PriceType.LIMIT, "price": D("751"),
              "triggerprice_sl": D("750"), "strategy": "gtt-test"}
    return GttRequest(**{**fields, **changes})


def oco(**changes) -> GttRequest:
    fields = {"trigger_type": GttType.OCO, "symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY,
              "product": Product.CNC, "quantity": D(5), "pricetype": PriceType.LIMIT,
              "triggerprice_sl": D("750"), "stoploss": D("751"), "triggerprice_tg": D("850"), "target": D("851")}
    return GttRequest(**{**fields, **changes})


def row(trigger_id: str) -> SandboxGtt:
    return SandboxGtt.objects.get(trigger_id=trigger_id)


# --- Rules -------------------------------------------------------------------------------------


def test_a_single_trigger_is_stored_active_with_the_last_price_read_by_the_exchange(user, market):
    trigger_id = gtt.place_gtt(user, single())
    assert len(trigger_id) == 14 and trigger_id.isdigit()
    stored = row(trigger_id)
    assert (stored.status, stored.last_price, stored.triggerprice_sl, stored.price) == ("active", D(800), D(750),
                                                                                      D(751))


@pytest.mark.parametrize(("changes", "message"), [
    ({"triggerprice_sl": D(0)}, "SINGLE GTT requires a positive triggerprice_sl or triggerprice_tg."),
    ({"triggerprice_tg": D(900)}, "SINGLE GTT takes exactly one of triggerprice_sl or triggerprice_tg; "
                                  "set the other to 0."),
    ({"product": Product.MIS}, "GTT supports only CNC (delivery) or NRML (overnight F&O); MIS is intraday-only."),
    ({"triggerprice_sl": D(810)}, "Trigger already met: the last price 800 has crossed it"),
    ({"expires_at": clock.now() - timedelta(minutes=1)}, "The GTT's expires_at is in the past"),
    ({"quantity": D(7), "symbol": "NIFTY29DEC26FUT", "exchange": Exchange.NFO, "product": Product.NRML,
      "triggerprice_sl": D(26000), "price": D(26000)}, "Quantity must be in multiples of lot size 65"),
])
def test_a_single_trigger_breaking_a_rule_is_refused(user, market, changes, message):
    with pytest.raises(BrokerRejected) as refused:
        gtt.place_gtt(user, single(**changes))
    assert refused.value.message == message
    assert not SandboxGtt.objects.exists()


@pytest.mark.parametrize(("changes", "message"), [
    ({"stoploss": None}, "Required for OCO (stoploss leg limit)."),
    ({"triggerprice_tg": D(0)}, "Required for OCO (target trigger)."),
    ({"triggerprice_sl": D(850)}, "Stoploss trigger must be less than target trigger (triggerprice_tg)."),
])
def test_an_oco_needs_all_four_prices_with_the_stoploss_below_the_target(user, market, changes, message):
    with pytest.raises(BrokerRejected) as refused:
        gtt.place_gtt(user, oco(**changes))
    assert refused.value.message == message


def test_a_trigger_without_a_last_price_is_a_502(user, market):
    market.ltp.pop("NSE:SBIN")
    with pytest.raises(GttPriceUnavailable) as failed:
        gtt.place_gtt(user, single())
    assert (failed.value.http_status, failed.value.message) == (502, "Failed to fetch last_price from broker quotes")


def test_modify_replaces_the_whole_trigger_and_reads_the_price_again(user, market):
    trigger_id = gtt.place_gtt(user, single(strategy="first"))
    market.set("NSE:SBIN", "790")
    assert gtt.modify_gtt(user, trigger_id, single(triggerprice_sl=D(0), triggerprice_tg=D(820),
                                                   price=D(821), quantity=D(2))) == trigger_id
    stored = row(trigger_id)
    assert (stored.triggerprice_sl, stored.triggerprice_tg, stored.price, stored.quantity, stored.strategy,
            stored.last_price) == (D(0), D(820), D(821), D(2), "gtt-test", D(790))
    assert stored.updated_at is not None


def test_modify_cannot_switch_the_type_or_touch_another_users_trigger(user, make_user, market):
    trigger_id = gtt.place_gtt(user, single())
    with pytest.raises(BrokerRejected, match="Cannot change a SINGLE GTT into OCO"):
        gtt.modify_gtt(user, trigger_id, oco())
    with pytest.raises(GttTriggerNotFound, match=f"Trigger {trigger_id} not found"):
        gtt.modify_gtt(make_user(username="other"), trigger_id, single())
    assert row(trigger_id).trigger_type == "SINGLE"


def test_modify_without_a_last_price_is_a_502_and_changes_nothing(user, market):
    trigger_id = gtt.place_gtt(user, single())
    market.ltp.pop("NSE:SBIN")
    with pytest.raises(GttPriceUnavailable):
        gtt.modify_gtt(user, trigger_id, single(quantity=D(9)))
    assert row(trigger_id).quantity == D(5)


def test_cancel_ends_an_active_trigger_once(user, market):
    trigger_id = gtt.place_gtt(user, oco())
    assert gtt.cancel_gtt(user, trigger_id) == trigger_id
    assert row(trigger_id).status == "cancelled"
    with pytest.raises(BrokerRejected, match="Cannot cancel trigger in cancelled status"):
        gtt.cancel_gtt(user, trigger_id)
    with pytest.raises(GttTriggerNotFound):
        gtt.cancel_gtt(user, "99999999999999")


def test_the_book_lists_active_triggers_with_ascending_prices_and_their_legs(user, market):
    gtt.place_gtt(user, oco(action=Action.SELL))
    cancelled = gtt.place_gtt(user, single())
    gtt.cancel_gtt(user, cancelled)
    [trigger] = SandboxAdapter(user).gtt_book()
    assert (trigger.trigger_type, trigger.status, trigger.trigger_prices, trigger.last_price) == (
        "two-leg", GttStatus.ACTIVE, (D(750), D(850)), D(800))
    assert [(leg.action, leg.price, leg.pricetype, leg.product) for leg in trigger.legs] == [
        (Action.SELL, D(751), PriceType.LIMIT, Product.CNC), (Action.SELL, D(851), PriceType.LIMIT, Product.CNC)]


def test_the_sandbox_declares_gtt_as_a_capability():
    assert SandboxAdapter.capabilities.gtt is True


# --- Firing ------------------------------------------------------------------------------------


def test_a_single_fires_once_when_a_tick_crosses_it_and_places_its_order(user, market):
    trigger_id = gtt.place_gtt(user, single())
    engine = FillEngine(keys_refresh_seconds=0)
    assert engine.on_tick("NSE", "SBIN", tick("760")) == 0
    market.set("NSE:SBIN", "749")
    assert engine.on_tick("NSE", "SBIN", tick("749")) >= 1
    fired = row(trigger_id)
    assert (fired.status, fired.fired_leg) == ("triggered", "sl")
    order = SandboxOrder.objects.get(orderid=fired.orderid)
    assert (order.action, order.quantity, order.pricetype, order.product, order.strategy, order.tag) == (
        "BUY", D(5), "LIMIT", "CNC", "gtt-test", f"gtt{trigger_id}")
    assert order.status == OrderStatus.COMPLETE  # a 751 limit buy is marketable at 749
    assert engine.on_tick("NSE", "SBIN", tick("700")) == 0
    assert SandboxOrder.objects.filter(tag=f"gtt{trigger_id}").count() == 1


def test_a_tick_that_crosses_nothing_costs_one_read_and_no_write(user, market, django_assert_num_queries):
    gtt.place_gtt(user, oco())
    with django_assert_num_queries(1):
        assert gtt.fire_triggers("NSE", "SBIN", tick("790")) == 0


def test_a_fired_order_is_announced_like_every_paper_order(user, market, django_capture_on_commit_callbacks,
                                                           monkeypatch):
    heard = []

    def listener(sender, *, user_id, order, **kwargs):
        heard.append((sender, user_id, order.orderid, order.tag))

    order_changed.connect(listener)
    try:
        trigger_id = gtt.place_gtt(user, single())
        market.set("NSE:SBIN", "749")
        with django_capture_on_commit_callbacks(execute=True):
            FillEngine(keys_refresh_seconds=0).on_tick("NSE", "SBIN", tick("749"))
    finally:
        order_changed.disconnect(listener)
    assert heard == [("sandbox", user.pk, row(trigger_id).orderid, f"gtt{trigger_id}")]


def test_an_oco_places_the_target_leg_when_the_price_rises_and_the_stoploss_never_fires(user, market):
    trigger_id = gtt.place_gtt(user, oco(action=Action.SELL, product=Product.CNC, quantity=D(1)))
    exchange.place_order(user, exchange_order_buy())  # something to sell
    market.set("NSE:SBIN", "855")
    engine = FillEngine(keys_refresh_seconds=0)
    engine.on_tick("NSE", "SBIN", tick("855"))
    fired = row(trigger_id)
    assert (fired.status, fired.fired_leg) == ("triggered", "tg")
    order = SandboxOrder.objects.get(orderid=fired.orderid)
    assert (order.action, order.price) == ("SELL", D(851))
    market.set("NSE:SBIN", "700")
    engine.on_tick("NSE", "SBIN", tick("700"))
    assert SandboxOrder.objects.filter(tag=f"gtt{trigger_id}").count() == 1


def exchange_order_buy():
    from brokers.sandbox.tests.test_exchange import order

    return order(quantity=1, product=Product.CNC)


def test_an_oco_places_the_stoploss_leg_when_the_price_falls(user, market):
    trigger_id = gtt.place_gtt(user, oco())
    market.set("NSE:SBIN", "745")
    assert gtt.fire_triggers("NSE", "SBIN", tick("745")) == 1
    fired = row(trigger_id)
    assert fired.fired_leg == "sl"
    assert SandboxOrder.objects.get(orderid=fired.orderid).price == D(751)


def test_an_order_the_exchange_refuses_when_fired_leaves_the_trigger_rejected_with_the_reason(user, market):
    trigger_id = gtt.place_gtt(user, single(action=Action.SELL, triggerprice_sl=D(0), triggerprice_tg=D(850),
                                            price=D(849)))
    market.set("NSE:SBIN", "851")
    assert gtt.fire_triggers("NSE", "SBIN", tick("851")) == 1
    fired = row(trigger_id)
    assert fired.status == "rejected" and fired.message.startswith("Cannot sell 5 SBIN")
    assert SandboxOrder.objects.get(orderid=fired.orderid).status == OrderStatus.REJECTED


def test_a_trigger_past_its_expiry_expires_instead_of_firing(user, market):
    trigger_id = gtt.place_gtt(user, single(expires_at=clock.now() + timedelta(minutes=1)))
    market.set("NSE:SBIN", "749")
    assert gtt.fire_triggers("NSE", "SBIN", tick("749"), clock.now() + timedelta(minutes=2)) == 0
    assert row(trigger_id).status == "expired"
    assert not SandboxOrder.objects.exists()


def test_a_trigger_survives_a_new_engine_and_the_poller_fires_it(user, market):
    trigger_id = gtt.place_gtt(user, single())
    FillEngine(keys_refresh_seconds=0).resting_keys()  # an engine that watched it, then went away
    market.set("NSE:SBIN", "749")
    fresh = FillEngine()
    assert ("NSE", "SBIN") in fresh.resting_keys()
    assert fresh.poll_once() >= 1
    assert row(trigger_id).status == "triggered"


def test_a_claim_lost_to_a_modify_that_moved_the_trigger_places_nothing(user, market):
    trigger_id = gtt.place_gtt(user, single())
    pk = row(trigger_id).pk
    gtt.modify_gtt(user, trigger_id, single(triggerprice_sl=D(700), price=D(701)))
    market.set("NSE:SBIN", "749")
    assert gtt.fire(pk, D(749), clock.now()) is False  # 749 crossed the old 750, not the new 700
    assert row(trigger_id).status == "active" and not SandboxOrder.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_firers_racing_for_one_trigger_place_exactly_one_order(user, market):
    from orders.tests.racing import race

    trigger_id = gtt.place_gtt(user, oco())
    pk = row(trigger_id).pk
    market.set("NSE:SBIN", "745")
    outcomes = race(lambda: gtt.fire(pk, D(745), clock.now()), threads=4)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert outcomes.count(True) == 1
    assert SandboxOrder.objects.filter(tag=f"gtt{trigger_id}").count() == 1
    assert row(trigger_id).status == "triggered"


# --- Deciding in memory ------------------------------------------------------------------------


def _writes(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries
            if q["sql"].lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "BEGIN")
            or "FOR UPDATE" in q["sql"].upper()]


def test_ticks_over_many_resting_triggers_that_cross_none_cost_no_query(user, market):
    """40 active triggers held in the engine's memory: a tick that crosses none of them reads
    and writes nothing; a tick that crosses one claims that one alone."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ids = [gtt.place_gtt(user, single(triggerprice_sl=D(700 + n), price=D(701 + n))) for n in range(40)]
    engine = FillEngine(keys_refresh_seconds=3600)
    engine.resting_keys()  # the one read of the active triggers
    with CaptureQueriesContext(connection) as quiet:
        for ltp in ("800", "760", "740.05"):
            assert engine.on_tick("NSE", "SBIN", tick(ltp)) == 0
    assert quiet.captured_queries == []
    market.set("NSE:SBIN", "738.50")
    with CaptureQueriesContext(connection) as crossing:
        assert engine.on_tick("NSE", "SBIN", tick("738.50")) == 1  # only the stop-loss at 739
    claims = [sql for sql in _writes(crossing) if "sandbox_sandboxgtt" in sql and sql.lstrip().upper().startswith(
        "UPDATE")]
    assert len(claims) == 2  # the claim of the one trigger, then its fired leg and order id
    assert [row(trigger_id).status for trigger_id in ids].count("triggered") == 1
    assert row(ids[39]).status == "triggered"


def test_the_pollers_pass_over_triggers_the_price_has_not_crossed_writes_nothing(user, market):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(30):
        gtt.place_gtt(user, oco(triggerprice_sl=D(700 + n), stoploss=D(701 + n)))
    with CaptureQueriesContext(connection) as captured:
        assert gtt.fire_due() == 0
        assert len(SandboxAdapter(user).gtt_book()) == 30
    assert _writes(captured) == []
    assert len(captured.captured_queries) <= 4  # one read per pass (and the book's own read)


def test_a_trigger_moved_after_the_engine_read_it_is_decided_again_on_the_claimed_row(user, market):
    trigger_id = gtt.place_gtt(user, single())
    engine = FillEngine(keys_refresh_seconds=3600)
    engine.resting_keys()  # remembers the stop-loss at 750
    gtt.modify_gtt(user, trigger_id, single(triggerprice_sl=D(700), price=D(701)))
    market.set("NSE:SBIN", "749")
    assert engine.on_tick("NSE", "SBIN", tick("749")) == 0  # due in memory, not on the row it claimed
    assert row(trigger_id).status == "active" and not SandboxOrder.objects.exists()
    market.set("NSE:SBIN", "699")
    assert engine.on_tick("NSE", "SBIN", tick("699")) == 1  # re-read after the miss: the new 700 fires
    assert row(trigger_id).status == "triggered"


def test_an_expiry_decided_from_memory_is_checked_again_when_written(user, market):
    trigger_id = gtt.place_gtt(user, single(expires_at=clock.now() + timedelta(minutes=1)))
    engine = FillEngine(keys_refresh_seconds=3600)
    engine.resting_keys()
    later = clock.now() + timedelta(minutes=5)
    gtt.modify_gtt(user, trigger_id, single(expires_at=clock.now() + timedelta(hours=1)))
    assert engine.on_tick("NSE", "SBIN", tick("790"), later) == 0
    assert row(trigger_id).status == "active"  # the row's new date is later: not expired
    assert engine.on_tick("NSE", "SBIN", tick("790"), clock.now() + timedelta(hours=2)) == 0
    assert row(trigger_id).status == "expired"
