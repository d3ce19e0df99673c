"""Every field of every order, account, data and options endpoint, tried missing, wrong-
typed, null, wrong-case and alongside an unknown field: always the contract's error
shape with a 4xx, never a 500, never an order."""

from __future__ import annotations

from datetime import date

import pytest

from brokers.sandbox.models import SandboxOrder
from brokers.sandbox.testing import make_instrument

ORDER = {"strategy": "T", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1",
         "pricetype": "MARKET", "product": "MIS", "price": "0", "trigger_price": "0", "disclosed_quantity": "0"}
GTT = {"strategy": "T", "trigger_type": "SINGLE", "symbol": "SBIN", "exchange": "NSE", "action": "BUY",
       "product": "CNC", "quantity": "1", "pricetype": "LIMIT", "price": "751", "triggerprice_sl": "750"}
VALID = {
    "placeorder": ORDER,
    "placesmartorder": {**ORDER, "position_size": "1"},
    "splitorder": {**ORDER, "splitsize": "1"},
    "basketorder": {"strategy": "T", "orders": [{k: ORDER[k] for k in ("symbol", "exchange", "action", "quantity")}]},
    "modifyorder": {**ORDER, "orderid": "1"},
    "cancelorder": {"strategy": "T", "orderid": "1"},
    "cancelallorder": {"strategy": "T"},
    "closeposition": {"strategy": "T"},
    "orderstatus": {"strategy": "T", "orderid": "1"},
    "openposition": {"strategy": "T", "symbol": "SBIN", "exchange": "NSE", "product": "MIS"},
    "margin": {"positions": [{"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "product": "MIS",
                              "pricetype": "MARKET", "quantity": "1"}]},
    "analyzer/toggle": {"mode": False},
    "quotes": {"symbol": "SBIN", "exchange": "NSE"},
    "depth": {"symbol": "SBIN", "exchange": "NSE"},
    "multiquotes": {"symbols": [{"symbol": "SBIN", "exchange": "NSE"}]},
    "history": {"symbol": "SBIN", "exchange": "NSE", "interval": "D", "start_date": "2026-11-02",
                "end_date": "2026-11-03"},
    "symbol": {"symbol": "SBIN", "exchange": "NSE"},
    "search": {"query": "SBIN"},
    "expiry": {"symbol": "NIFTY", "exchange": "NFO", "instrumenttype": "futures"},
    "optionsymbol": {"underlying": "NIFTY", "exchange": "NSE_INDEX", "expiry_date": "29DEC26", "offset": "ATM",
                     "option_type": "CE"},
    "optionsorder": {"strategy": "T", "underlying": "NIFTY", "exchange": "NSE_INDEX", "expiry_date": "29DEC26",
                     "offset": "ATM", "option_type": "CE", "action": "BUY", "quantity": 65},
    "optionchain": {"underlying": "NIFTY", "exchange": "NSE_INDEX", "expiry_date": "29DEC26", "strike_count": 1},
    "optiongreeks": {"symbol": "NIFTY29DEC2626000CE", "exchange": "NFO"},
    "syntheticfuture": {"underlying": "NIFTY", "exchange": "NSE_INDEX", "expiry_date": "29DEC26"},
    "market/holidays": {"year": 2026},
    "market/timings": {"date": "2026-11-25"},
    "placegttorder": GTT,
    "modifygttorder": {**GTT, "trigger_id": "1"},
    "cancelgttorder": {"strategy": "T", "trigger_id": "1"},
    "gttorderbook": {},
    "pnl/symbols": {},
}
# The contract has these ignore unknown fields instead of refusing them (spec §2.8).
IGNORE_UNKNOWN = {"placegttorder", "modifygttorder", "cancelgttorder", "gttorderbook"}
WRONG = [[], {}, None, True, -1, "ZZ-not-a-value", 1e309, 10**20]  # 10**20 overflows the ledger's columns
# For numeric fields: "³" and "+-5" pass str.isdigit() or a sign strip, yet int() and
# Decimal() refuse them; "-1e15" is beyond any quantity or price.
WRONG_NUMBERS = ["³", "+-5", "-1e15"]


def numeric(value) -> bool:
    return isinstance(value, (int, float)) or (isinstance(value, str) and value.lstrip("-").isdecimal())


@pytest.fixture
def world(market):
    make_instrument("NIFTY29DEC2626000PE", "NFO", name="NIFTY", lotsize=65, strike=26000, option_type="PE",
                    expiry=date(2026, 12, 29), instrumenttype="OPTIDX", underlying_exchange="NSE_INDEX")
    market.set("NFO:NIFTY29DEC2626000PE", "140")
    return market


def _check(status: int, body, endpoint: str, case: str) -> None:
    assert status < 500, f"{endpoint} {case}: {status} {body}"
    if status >= 400:
        assert isinstance(body, dict) and body.get("status") == "error" and "message" in body, (endpoint, case, body)


@pytest.mark.parametrize("endpoint", sorted(VALID))
def test_every_field_wrong_in_every_way_is_a_clean_error(endpoint, api_call, world, settings):
    settings.RATELIMIT_ENABLE = False
    valid = VALID[endpoint]
    valid_status, body = api_call(endpoint, **valid)
    assert valid_status < 500, (endpoint, body)
    before = SandboxOrder.objects.count()
    status, body = api_call(endpoint, **valid, surprise_field="x")
    _check(status, body, endpoint, "unknown field")
    assert status == (valid_status if endpoint in IGNORE_UNKNOWN else 400)
    for field in valid:
        rest = {k: v for k, v in valid.items() if k != field}
        _check(*api_call(endpoint, **rest), endpoint, f"without {field}")
        for wrong in WRONG + (WRONG_NUMBERS if numeric(valid[field]) else []):
            _check(*api_call(endpoint, **{**valid, field: wrong}), endpoint, f"{field}={wrong!r}")
        if isinstance(valid[field], str) and valid[field] != valid[field].lower():
            _check(*api_call(endpoint, **{**valid, field: valid[field].lower()}), endpoint, f"{field} lower-case")
    assert SandboxOrder.objects.count() - before <= len(valid) * 2  # only case-folded actions may trade


@pytest.mark.parametrize("body", ["", "not json", "[1, 2]", '{"apikey": ', "null", '"text"'])
def test_bodies_that_are_not_json_objects_are_400(body, post_json, world):
    response = post_json("/api/v1/placeorder", body)
    assert response.status_code == 400 and response.json()["status"] == "error"
