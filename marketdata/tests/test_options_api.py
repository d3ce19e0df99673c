"""Options endpoints through HTTP (spec §9): strike resolution, orders, chain, synthetic."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from brokers.sandbox.models import SandboxOrder
from brokers.sandbox.testing import make_instrument
from orders.models import PendingOrder

EXPIRY = date(2026, 12, 29)
STRIKES = [25900, 25950, 26000, 26050, 26100]


@pytest.fixture
def chain(market):
    for strike in STRIKES:
        for kind in ("CE", "PE"):
            symbol = f"NIFTY29DEC26{strike}{kind}"
            if strike != 26000 or kind != "CE":  # the fixture market already lists 26000 CE
                make_instrument(symbol, "NFO", name="NIFTY", lotsize=65, expiry=EXPIRY, strike=Decimal(strike),
                                option_type=kind, instrumenttype="OPTIDX", underlying_exchange="NSE_INDEX")
            intrinsic = max(0, 26010 - strike) if kind == "CE" else max(0, strike - 26010)
            market.set(f"NFO:{symbol}", intrinsic + 100)
    market.set("NSE_INDEX:NIFTY", "26010")
    return market


@pytest.fixture
def call(api_call, chain):
    return api_call


@pytest.mark.parametrize(("offset", "option_type", "expected"), [
    ("ATM", "CE", "NIFTY29DEC2626000CE"), ("ITM1", "CE", "NIFTY29DEC2625950CE"),
    ("OTM2", "ce", "NIFTY29DEC2626100CE"), ("ITM1", "PE", "NIFTY29DEC2626050PE"),
    ("otm2", "PE", "NIFTY29DEC2625900PE"),
])
def test_optionsymbol_walks_the_listed_strikes_from_atm(call, offset, option_type, expected):
    status, body = call("optionsymbol", underlying="NIFTY", exchange="NSE_INDEX", expiry_date="29DEC26",
                        offset=offset, option_type=option_type)
    assert status == 200
    assert body == {"status": "success", "symbol": expected, "exchange": "NFO", "lotsize": 65, "tick_size": 0.05,
                    "freeze_qty": 1, "underlying_ltp": 26010.0}


def test_an_embedded_expiry_in_the_underlying_is_used(call):
    status, body = call("optionsymbol", underlying="NIFTY29DEC26FUT", exchange="NFO", offset="ATM",
                        option_type="CE")
    assert (status, body["symbol"]) == (200, "NIFTY29DEC2626000CE")


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"offset": "OTM3"}, 400, "Offset OTM3 is out of range for available strikes. Please use a smaller offset."),
    ({"expiry_date": "05JAN27"}, 404, "No strikes found for NIFTY expiring 05JAN27. Please check expiry date or "
                                      "update master contract."),
    ({"expiry_date": None}, 400, None),
])
def test_resolution_errors(call, fields, status, message):
    body = {"underlying": "NIFTY", "exchange": "NSE_INDEX", "expiry_date": "29DEC26", "offset": "ATM",
            "option_type": "CE", **fields}
    if body["expiry_date"] is None:
        del body["expiry_date"]
        message = ("Expiry date required. Provide via expiry_date parameter or embed in underlying "
                   "(e.g., NIFTY28OCT25FUT).")
    assert call("optionsymbol", **body) == (status, {"status": "error", "message": message})


def test_a_bad_offset_is_a_v_c_validation_error(call):
    status, body = call("optionsymbol", underlying="NIFTY", exchange="NSE_INDEX", expiry_date="29DEC26",
                        offset="ATM5", option_type="CE")
    assert status == 400
    assert body == {"status": "error", "message": "Validation error",
                    "errors": {"offset": ["Offset must be ATM, ITM1-ITM50, or OTM1-OTM50"]}}


def test_optionsorder_places_the_resolved_contract(call):
    status, body = call("optionsorder", strategy="Opt", underlying="NIFTY", exchange="NSE_INDEX",
                        expiry_date="29DEC26", offset="ITM1", option_type="ce", action="BUY", quantity=65,
                        product="NRML")
    assert status == 200
    assert {k: body[k] for k in ("symbol", "exchange", "underlying", "underlying_ltp", "offset", "option_type")} == {
        "symbol": "NIFTY29DEC2625950CE", "exchange": "NFO", "underlying": "NIFTY", "underlying_ltp": 26010.0,
        "offset": "ITM1", "option_type": "CE"}
    assert SandboxOrder.objects.get(orderid=body["orderid"]).symbol == "NIFTY29DEC2625950CE"


def test_optionsorder_lot_size_and_product_rules(call):
    status, body = call("optionsorder", strategy="Opt", underlying="NIFTY", exchange="NSE_INDEX",
                        expiry_date="29DEC26", offset="ATM", option_type="CE", action="BUY", quantity=10)
    assert (status, body["message"]) == (400, "Quantity must be in multiples of lot size 65")
    status, body = call("optionsorder", strategy="Opt", underlying="NIFTY", exchange="NSE_INDEX",
                        expiry_date="29DEC26", offset="ATM", option_type="CE", action="BUY", quantity=65,
                        product="CNC")
    assert status == 400 and "product" in body["errors"]


def test_optionsorder_with_a_split(call):
    status, body = call("optionsorder", strategy="Opt", underlying="NIFTY", exchange="NSE_INDEX",
                        expiry_date="29DEC26", offset="ATM", option_type="PE", action="BUY", quantity=195,
                        splitsize=65)
    assert status == 200 and "orderid" not in body
    assert (body["total_quantity"], body["split_size"], len(body["results"])) == (195, 65, 3)


def test_optionsmultiorder_sends_buys_first_and_reports_in_request_order(call):
    status, body = call("optionsmultiorder", strategy="Iron", underlying="NIFTY", exchange="NSE_INDEX",
                        expiry_date="29DEC26", legs=[
                            {"offset": "ATM", "option_type": "CE", "action": "SELL", "quantity": 65},
                            {"offset": "OTM2", "option_type": "CE", "action": "BUY", "quantity": 65},
                            {"offset": "OTM9", "option_type": "PE", "action": "BUY", "quantity": 65}])
    assert status == 200 and body["underlying_ltp"] == 26010.0
    assert [r["leg"] for r in body["results"]] == [1, 2, 3]
    assert [r["status"] for r in body["results"]] == ["success", "success", "error"]
    first, second = (SandboxOrder.objects.get(orderid=body["results"][i]["orderid"]) for i in (0, 1))
    assert (first.action, second.action) == ("SELL", "BUY") and second.created_at <= first.created_at


def test_optionchain_labels_and_window(call):
    status, body = call("optionchain", underlying="NIFTY", exchange="NSE_INDEX", expiry_date="29DEC26",
                        strike_count=1)
    assert status == 200
    assert body["atm_strike"] == 26000.0 and body["underlying_exchange"] == "NSE_INDEX"
    assert [row["strike"] for row in body["chain"]] == [25950.0, 26000.0, 26050.0]
    labels = [(row["ce"]["label"], row["pe"]["label"]) for row in body["chain"]]
    assert labels == [("ITM1", "OTM1"), ("ATM", "ATM"), ("OTM1", "ITM1")]
    assert body["chain"][1]["ce"]["ltp"] == 110.0 and body["greeks_included"] is False


def test_syntheticfuture_is_strike_plus_call_minus_put(call):
    status, body = call("syntheticfuture", underlying="NIFTY", exchange="NSE_INDEX", expiry_date="29DEC26")
    assert status == 200
    assert body == {"status": "success", "underlying": "NIFTY", "underlying_ltp": 26010.0, "expiry": "29DEC26",
                    "atm_strike": 26000.0, "synthetic_future_price": 26010.0}


def test_semi_auto_queues_options_orders(call, user):
    user.order_mode = "semi_auto"
    user.save()
    status, body = call("optionsorder", strategy="Opt", underlying="NIFTY", exchange="NSE_INDEX",
                        expiry_date="29DEC26", offset="ATM", option_type="CE", action="BUY", quantity=65)
    assert status == 200 and body["mode"] == "semi_auto"
    assert PendingOrder.objects.get().endpoint == "optionsorder"
    from orders import actioncenter

    approved = actioncenter.approve(user=user, pending_id=body["pending_order_id"])
    assert approved.result["status"] == "success" and approved.result["symbol"] == "NIFTY29DEC2626000CE"
    assert SandboxOrder.objects.get().symbol == "NIFTY29DEC2626000CE"


def test_optiongreeks_solves_iv_and_greeks(call):
    status, body = call("optiongreeks", symbol="NIFTY29DEC2626000CE", exchange="NFO", interest_rate=0)
    assert status == 200
    assert (body["underlying"], body["strike"], body["option_type"], body["expiry_date"]) == (
        "NIFTY", 26000.0, "CE", "29-Dec-2026")
    assert body["spot_price"] == 26010.0  # synthetic forward: 26000 + 110 - 100
    assert 0 < body["implied_volatility"] < 100
    assert 0.4 < body["greeks"]["delta"] < 0.7 and body["greeks"]["theta"] < 0


def test_optiongreeks_errors(call, post_json):
    assert call("optiongreeks", symbol="NIFTY", exchange="NFO")[0] == 400
    status, body = call("optiongreeks", symbol="NIFTY29DEC2626000CE", exchange="NSE")
    assert status == 400 and body["message"] == "Validation failed"
    response = post_json("/api/v1/optiongreeks", {"apikey": "wrong", "symbol": "NIFTY29DEC2626000CE",
                                                  "exchange": "NFO"})
    assert response.status_code == 401


def test_multioptiongreeks_reports_partial_success(call):
    status, body = call("multioptiongreeks", symbols=[{"symbol": "NIFTY29DEC2626000CE", "exchange": "NFO"},
                                                      {"symbol": "NIFTY29DEC2699999CE", "exchange": "NFO"}])
    assert status == 200 and body["status"] == "partial"
    assert body["summary"] == {"total": 2, "success": 1, "failed": 1}
    assert body["data"][1] == {"status": "error", "symbol": "NIFTY29DEC2699999CE", "exchange": "NFO",
                               "message": "Option LTP not available"}


def test_optionchain_with_greeks(call):
    status, body = call("optionchain", underlying="NIFTY", exchange="NSE_INDEX", expiry_date="29DEC26",
                        strike_count=1, with_greeks=True)
    assert status == 200 and body["greeks_included"] is True and body["forward_price"] == 26010.0
    assert "delta" in body["chain"][1]["ce"] and "implied_volatility" in body["chain"][1]["pe"]


def test_chain_legs_are_quoted_in_the_brokers_batches():
    from types import SimpleNamespace

    from brokers.base import BrokerError, Capabilities, Quote
    from brokers.enums import Exchange
    from marketdata.options_api import _leg_quotes

    class BatchBroker:
        capabilities = Capabilities(exchanges=frozenset({Exchange.NFO}), batch_quotes=2)
        calls: list = []

        def quotes(self, items):
            self.calls.append(list(items))
            if items[0][0] == "C":
                raise BrokerError("one batch failed")
            return {item: Quote(ltp=Decimal(1), open=Decimal(1), high=Decimal(1), low=Decimal(1),
                                prev_close=Decimal(1), volume=0, bid=Decimal(1), ask=Decimal(1)) for item in items}

        def quote(self, symbol, exchange):
            raise AssertionError("one call per leg while the broker offers batches")

    legs = [SimpleNamespace(symbol=name, exchange="NFO") for name in "ABCDE"]
    broker = BatchBroker()
    found = _leg_quotes(broker, legs)
    assert [[symbol for symbol, _ in call] for call in broker.calls] == [["A", "B"], ["C", "D"], ["E"]]
    assert sorted(symbol for symbol, _ in found) == ["A", "B", "E"]  # the failed batch's legs have no quote
