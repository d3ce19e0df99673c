"""Symbol, search, expiry, instruments, intervals and calendar endpoints through HTTP."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import override_settings


@pytest.fixture
def call(api_call, market):
    return api_call


def test_symbol_answers_the_master_contract_row(call):
    status, body = call("symbol", symbol="NIFTY29DEC26FUT", exchange="NFO")
    assert status == 200
    data = body["data"]
    assert {k: data[k] for k in ("symbol", "name", "exchange", "expiry", "strike", "lotsize", "instrumenttype",
                                 "tick_size")} == {
        "symbol": "NIFTY29DEC26FUT", "name": "NIFTY", "exchange": "NFO", "expiry": "29-DEC-26", "strike": 0.0,
        "lotsize": 65, "instrumenttype": "FUTIDX", "tick_size": 0.05}
    assert isinstance(data["id"], int) and "freeze_qty" in data


def test_an_unknown_symbol_is_404_and_a_bad_exchange_400(call):
    assert call("symbol", symbol="NOPE", exchange="NSE") == (
        404, {"status": "error", "message": "Symbol NOPE not found in exchange NSE"})
    status, body = call("symbol", symbol="SBIN", exchange="nse")
    assert status == 400 and isinstance(body["message"], dict) and "exchange" in body["message"]


def test_search_ranks_exact_then_prefix_and_filters_by_exchange(call):
    status, body = call("search", query="sbin")
    assert status == 200 and body["message"] == "Found 2 matching symbols"
    assert [(r["symbol"], r["exchange"]) for r in body["data"]] == [("SBIN", "BSE"), ("SBIN", "NSE")]
    status, body = call("search", query="nifty 26000")
    assert [r["symbol"] for r in body["data"]] == ["NIFTY29DEC2626000CE"]
    status, body = call("search", query="SBIN", exchange="NSE")
    assert [r["exchange"] for r in body["data"]] == ["NSE"]


def test_search_without_a_query_or_with_no_match(call):
    assert call("search", query="  ") == (400, {"status": "error",
                                               "message": "Query parameter is required and cannot be empty"})
    assert call("search", query="zzzz") == (200, {"status": "success", "message": "No matching symbols found",
                                                 "data": []})


def test_expiry_lists_future_dates_of_the_exact_underlying(call):
    status, body = call("expiry", symbol="NIFTY", exchange="NFO", instrumenttype="futures")
    assert (status, body["data"]) == (200, ["29-DEC-26"])
    assert body["message"] == "Found 1 expiry dates for NIFTY futures in NFO"
    status, body = call("expiry", symbol="NIFTY", exchange="NFO", instrumenttype="Options")
    assert status == 400
    status, body = call("expiry", symbol="BANKNIFTY", exchange="NFO", instrumenttype="options")
    assert body == {"status": "success", "message": "No expiry dates found for BANKNIFTY options in NFO",
                    "data": []}


def test_instruments_as_json_and_csv(client, api_key, market):
    response = client.get("/api/v1/instruments", {"apikey": api_key, "exchange": "NSE"})
    body = response.json()
    assert response.status_code == 200 and body["message"] == "Found 2 instruments"
    assert set(body["data"][0]) == {"symbol", "brsymbol", "name", "exchange", "brexchange", "token", "expiry",
                                    "strike", "lotsize", "instrumenttype", "tick_size"}
    response = client.get("/api/v1/instruments", {"apikey": api_key, "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == "attachment; filename=instruments_all.csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["symbol", "brsymbol", "name", "exchange", "brexchange", "token", "expiry", "strike",
                       "lotsize", "instrumenttype", "tick_size"]
    assert len(rows) == 1 + 6


def test_instruments_without_a_key_is_401(client, market):
    response = client.get("/api/v1/instruments")
    assert (response.status_code, response.json()) == (401, {"status": "error", "message": "API key is required"})
    response = client.get("/api/v1/instruments", {"apikey": "bad"})
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/instruments", "/api/v1/ticker/NSE:SBIN"])
def test_the_get_endpoints_refuse_post_with_405(path, post_json, api_key, market):
    # Spec §2.2: GET only. A POST once reached the GET handler's serializer with a JSON
    # list body and answered 500 (found by tests/e2e/test_fuzz_api.py).
    for body in ({"apikey": api_key}, "[null, null]"):
        response = post_json(path, body)
        assert (response.status_code, response.json()) == (
            405, {"message": "The method is not allowed for the requested URL."})


def test_intervals_match_what_history_accepts(call):
    status, body = call("intervals")
    assert status == 200
    assert set(body["data"]) == {"seconds", "minutes", "hours", "days", "weeks", "months"}
    assert body["data"]["minutes"][:3] == ["1m", "2m", "3m"] and body["data"]["days"] == ["D"]


def test_market_holidays_and_timings(call):
    status, body = call("market/holidays", year=2026)
    assert (status, body["year"], body["timezone"]) == (200, 2026, "Asia/Kolkata")
    republic = next(row for row in body["data"] if row["date"] == "2026-01-26")
    assert republic["holiday_type"] == "TRADING_HOLIDAY" and "NSE" in republic["closed_exchanges"]
    assert call("market/timings", date="2026-01-26")[1]["data"] == []
    status, body = call("market/timings", date="2026-11-25")
    assert [row["exchange"] for row in body["data"]][:2] == ["NSE", "BSE"]
    assert call("market/timings", date="24-11-2026") == (
        400, {"status": "error", "message": "Invalid date format. Use YYYY-MM-DD"})
    status, body = call("market/holidays", year=2019)
    assert status == 400


@override_settings(RATELIMIT_ENABLE=True)
def test_search_without_trailing_slash_and_with(post_json, api_key, market):
    for path in ("/api/v1/search", "/api/v1/search/"):
        assert post_json(path, {"apikey": api_key, "query": "SBIN"}).status_code == 200
