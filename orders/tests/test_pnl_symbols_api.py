"""POST /api/v1/pnl/symbols (spec §10.8): paper P&L per symbol in analyze mode only, the
same figures as the My P&L page, with the contract's errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from brokers.sandbox.models import SandboxTrade
from orders import paper

BUY = {"strategy": "P", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10",
       "pricetype": "MARKET", "product": "MIS"}


@pytest.fixture
def analyzing(user, api_call, market):
    user.analyze_mode = True
    user.save()
    return api_call


@pytest.fixture
def traded(analyzing, market):
    """SBIN: bought 10 at 800.05, sold 4 at 809.95 (39.60 realised), 6 left marked at 810;
    RELIANCE CNC: bought 1 at 1500.05, marked at 1490."""
    assert analyzing("placeorder", **BUY)[0] == 200
    market.set("NSE:SBIN", "810")
    assert analyzing("placeorder", **{**BUY, "action": "SELL", "quantity": "4"})[0] == 200
    assert analyzing("placeorder", **{**BUY, "symbol": "RELIANCE", "quantity": "1", "product": "CNC"})[0] == 200
    market.set("NSE:RELIANCE", "1490")
    return analyzing


def test_rows_and_totals_in_the_spec_shape(traded):
    status, body = traded("pnl/symbols")
    assert status == 200
    assert body == {
        "status": "success",
        "data": [
            {"symbol": "SBIN", "exchange": "NSE", "product": "MIS", "quantity": 6, "pnl": 99.3,
             "unrealized_pnl": 59.7, "today_realized_pnl": 39.6, "total_pnl_today": 99.3},
            {"symbol": "RELIANCE", "exchange": "NSE", "product": "CNC", "quantity": 1, "pnl": -10.05,
             "unrealized_pnl": -10.05, "today_realized_pnl": 0.0, "total_pnl_today": -10.05},
        ],
        "total_pnl": 89.25, "total_unrealized_pnl": 49.65, "total_today_realized_pnl": 39.6,
        "total_pnl_today": 89.25, "mode": "analyze",
    }


def test_an_earlier_days_profit_counts_in_pnl_but_not_today(traded, user):
    sell = SandboxTrade.objects.get(user=user, action="SELL")
    sell.session_date -= timedelta(days=1)
    sell.save()
    _, body = traded("pnl/symbols")
    sbin = body["data"][0]
    assert (sbin["pnl"], sbin["today_realized_pnl"], sbin["total_pnl_today"]) == (99.3, 0.0, 59.7)
    days = paper.paper_pnl(user).days
    assert [(d.session_date, float(d.realized_pnl), float(d.unrealized_pnl)) for d in days] == [
        (sell.session_date + timedelta(days=1), 0.0, 49.65), (sell.session_date, 39.6, 0.0)]


def test_the_my_pnl_page_shows_the_same_figures(traded, client, user):
    client.force_login(user)
    page = client.get("/sandbox/pnl/")
    assert page.status_code == 200
    _, body = traded("pnl/symbols")
    assert paper.pnl_symbols_body(page.context["pnl"]) == body
    text = page.content.decode()
    assert 'data-testid="total-pnl">89.25<' in text and 'data-testid="total-today-realized">39.60<' in text
    assert 'data-day="' in text and "SBIN" in text


def test_a_position_closed_today_stays_with_its_realised_pnl(analyzing, market):
    analyzing("placeorder", **BUY)
    market.set("NSE:SBIN", "790")
    analyzing("placeorder", **{**BUY, "action": "SELL"})  # sold at 789.95: 10 x -10.10
    _, body = analyzing("pnl/symbols")
    assert body["data"] == [{"symbol": "SBIN", "exchange": "NSE", "product": "MIS", "quantity": 0, "pnl": -101.0,
                             "unrealized_pnl": 0.0, "today_realized_pnl": -101.0, "total_pnl_today": -101.0}]


def test_nothing_traded_is_an_empty_book(analyzing):
    assert analyzing("pnl/symbols") == (200, {
        "status": "success", "data": [], "total_pnl": 0.0, "total_unrealized_pnl": 0.0,
        "total_today_realized_pnl": 0.0, "total_pnl_today": 0.0, "mode": "analyze"})


def test_live_mode_is_refused_with_400(api_call, market):
    assert api_call("pnl/symbols") == (400, {
        "status": "error", "message": "This endpoint is only available in sandbox/analyzer mode"})


def test_the_mode_is_read_now_not_from_a_cached_key(api_call, user, market):
    assert api_call("pnl/symbols")[0] == 400  # the key is verified and cached here
    assert api_call("analyzer/toggle", mode=True)[0] == 200
    assert api_call("pnl/symbols")[0] == 200


def test_a_bad_key_is_403_and_a_bad_body_400_in_the_mapping_style(post_json, analyzing):
    response = post_json("/api/v1/pnl/symbols", {"apikey": "not-a-key"})
    assert (response.status_code, response.json()) == (403, {"status": "error", "message": "Invalid openalgo apikey"})
    response = post_json("/api/v1/pnl/symbols/", {})
    assert (response.status_code, response.json()) == (
        400, {"status": "error", "message": {"apikey": ["Missing data for required field."]}})
    status, body = analyzing("pnl/symbols", extra="1")
    assert (status, body) == (400, {"status": "error", "message": {"extra": ["Unknown field."]}})
    response = post_json("/api/v1/pnl/symbols", "{not json")
    assert response.status_code == 400 and response.json()["status"] == "error"


def test_it_is_in_the_openapi_schema(db):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/pnl/symbols/"]["post"]
    assert {"200", "400", "403", "429"} <= set(operation["responses"])
    success = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert success == {"$ref": "#/components/schemas/PnlSymbolsOutput"}
    assert operation["tags"] == ["utilities"]
