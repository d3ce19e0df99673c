"""The Market pages: the quote page with its chart data and search, the option chain with
IV and greeks around ATM, and the chart preferences the page keeps in the /chart store."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.test import Client

from brokers.sandbox.testing import make_instrument
from marketdata.models import ChartPreference

EXPIRY = date(2026, 12, 29)
STRIKES = [25900, 25950, 26000, 26050, 26100]


@pytest.fixture
def signed_in(client, user, market):
    client.force_login(user)
    return client


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


def test_the_pages_need_a_signed_in_user(client, user):
    for path in ("/quote/", "/quote/search/?q=SBIN", "/quote/history/?symbol=SBIN&exchange=NSE",
                 "/quote/preferences/", "/optionchain/", "/optionchain/table/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/login/"), path


def test_the_quote_page_shows_the_quote_and_a_chart_ready_for_ticks(signed_in, market):
    market.set("NSE:SBIN", "812.35")
    response = signed_in.get("/quote/", {"symbol": "sbin", "exchange": "NSE"})
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-testid="ltp">812.35<' in text
    assert 'data-field="bid">812.30<' in text and 'data-field="ask">812.40<' in text
    assert 'data-testid="chart"' in text and 'data-ticks-drawn="0"' in text
    assert 'data-symbol="SBIN"' in text and 'data-exchange="NSE"' in text
    assert "js/quote.js" in text and "lightweight-charts.standalone.production.js" in text
    assert "<script>" not in text  # CSP: no inline code; data goes in json_script
    assert response.context["preferences"] == {"interval": "1m", "chart_type": "candles"}


def test_the_quote_page_without_a_symbol_offers_the_search(signed_in):
    response = signed_in.get("/quote/")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'data-testid="symbol-search"' in text and 'data-testid="chart"' not in text


def test_an_unknown_symbol_is_a_clear_400_not_a_500(signed_in):
    response = signed_in.get("/quote/", {"symbol": "NOSUCH", "exchange": "NSE"})
    assert response.status_code == 400
    assert "Symbol &#x27;NOSUCH&#x27; not found for exchange &#x27;NSE&#x27;" in response.content.decode()
    assert 'data-testid="chart"' not in response.content.decode()


def test_an_unknown_exchange_is_a_clear_400(signed_in):
    response = signed_in.get("/quote/", {"symbol": "SBIN", "exchange": "MOON"})
    assert response.status_code == 400 and "Unknown exchange &#x27;MOON&#x27;" in response.content.decode()


def test_the_search_fragment_lists_matches_as_links_to_their_quote(signed_in):
    response = signed_in.get("/quote/search/", {"symbol": "sbi", "exchange": "NSE"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "/quote/?symbol=SBIN&amp;exchange=NSE" in text
    assert "exchange=BSE" not in text  # the exchange filter applies
    everywhere = signed_in.get("/quote/search/", {"q": "SBIN"}).content.decode()
    assert "exchange=NSE" in everywhere and "exchange=BSE" in everywhere
    assert "No matching symbols found" in signed_in.get("/quote/search/", {"q": "ZZZZ"}).content.decode()
    assert signed_in.get("/quote/search/", {"q": ""}).content.decode().strip() == ""


def test_the_chart_history_comes_from_the_history_service(signed_in, market):
    market.set("NSE:SBIN", "800")
    response = signed_in.get("/quote/history/", {"symbol": "SBIN", "exchange": "NSE", "interval": "5m"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["interval"] == "5m" and body["data"]
    first, second = body["data"][:2]
    assert second["timestamp"] - first["timestamp"] == 300
    assert set(first) == {"timestamp", "open", "high", "low", "close", "volume", "oi"}
    assert first["close"] == 800.0
    daily = signed_in.get("/quote/history/", {"symbol": "SBIN", "exchange": "NSE", "interval": "D"}).json()
    assert all(candle["timestamp"] % 86400 == 0 for candle in daily["data"])  # IST dates at 00:00 UTC


@pytest.mark.parametrize(("params", "message"), [
    ({"symbol": "SBIN", "exchange": "NSE", "interval": "7m"}, "Interval must be one of: 1m, 5m, 15m, 1h, D."),
    ({"symbol": "SBIN", "exchange": "MOON"}, "Give a symbol and a valid exchange."),
    ({"symbol": "NOSUCH", "exchange": "NSE"}, "Symbol 'NOSUCH' not found for exchange 'NSE'. Please verify the "
                                              "symbol name and ensure master contracts are downloaded."),
])
def test_bad_history_requests_are_400_with_a_message(signed_in, params, message):
    response = signed_in.get("/quote/history/", params)
    assert (response.status_code, response.json()) == (400, {"status": "error", "message": message})


def test_page_preferences_round_trip_through_the_chart_store(signed_in, user, api_key, client):
    response = signed_in.post("/quote/preferences/", json.dumps({"interval": "15m", "chart_type": "line"}),
                              content_type="application/json")
    assert response.json() == {"status": "success", "data": {"interval": "15m", "chart_type": "line"}}
    assert dict(ChartPreference.objects.filter(user=user).values_list("key", "value")) == {
        "interval": "15m", "chart_type": "line"}
    page = signed_in.get("/quote/", {"symbol": "SBIN", "exchange": "NSE"}).content.decode()
    assert '{"interval": "15m", "chart_type": "line"}' in page  # the json_script the chart restores from
    assert 'data-interval="15m" aria-pressed="true"' in page
    assert signed_in.get("/quote/preferences/").json()["data"] == {"interval": "15m", "chart_type": "line"}
    api = Client().get("/api/v1/chart", {"apikey": api_key}).json()  # the same store as the API's
    assert api["data"] == {"interval": "15m", "chart_type": "line"}


def test_a_preference_set_through_the_api_shows_on_the_page(signed_in, api_call):
    api_call("chart", interval="1h", drawings=[1, 2, 3])
    page = signed_in.get("/quote/", {"symbol": "SBIN", "exchange": "NSE"}).content.decode()
    assert 'data-interval="1h" aria-pressed="true"' in page
    assert signed_in.get("/quote/preferences/").json()["data"] == {"interval": "1h"}  # only what the page knows


@pytest.mark.parametrize(("body", "message"), [
    ({"interval": "7m"}, "interval must be one of: 1m, 5m, 15m, 1h, D."),
    ({"chart_type": "renko"}, "chart_type must be one of: candles, line."),
    ({"colour": "red"}, "Unknown chart preference 'colour'."),
    ({}, "No preferences provided to update"),
    ([1], "No preferences provided to update"),
])
def test_bad_page_preferences_are_400_and_store_nothing(signed_in, user, body, message):
    response = signed_in.post("/quote/preferences/", json.dumps(body), content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"status": "error", "message": message})
    assert not ChartPreference.objects.filter(user=user).exists()


def test_page_preferences_need_the_csrf_token(user, market):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post("/quote/preferences/", json.dumps({"interval": "5m"}), content_type="application/json")
    assert response.status_code == 403
    assert not ChartPreference.objects.exists()


def test_the_option_chain_shows_strikes_around_atm_with_greeks(signed_in, chain):
    response = signed_in.get("/optionchain/", {"underlying": "NIFTY", "exchange": "NSE_INDEX",
                                               "expiry": "29-DEC-26", "strikes": "1"})
    assert response.status_code == 200
    context = response.context
    rows = context["chain"]["chain"]
    assert [row["strike"] for row in rows] == [25950.0, 26000.0, 26050.0]  # ±1 around ATM 26000
    for row in rows:
        for kind in ("ce", "pe"):
            leg = row[kind]
            assert leg["implied_volatility"] > 0 and -1 <= leg["delta"] <= 1 and leg["gamma"] > 0
    text = response.content.decode()
    assert text.count('data-testid="chain-row"') == 3
    assert 'data-strike="26000" class="bg-warning/20 font-semibold" data-atm="true"' in text
    assert text.count('data-atm="true"') == 1
    assert 'data-live="NFO:NIFTY29DEC2626000CE" data-live-field="ltp"' in text
    assert 'hx-trigger="every 5s"' in text and "/optionchain/table/?underlying=NIFTY" in text


def test_the_option_chain_defaults_to_the_nearest_expiry_and_ten_strikes(signed_in, chain):
    response = signed_in.get("/optionchain/")
    assert response.status_code == 200
    assert response.context["form"]["expiry"] == "29-DEC-26"
    assert len(response.context["chain"]["chain"]) == 5  # every listed strike is within ±10


def test_the_chain_table_fragment_refreshes_alone(signed_in, chain):
    chain.set("NFO:NIFTY29DEC2626000CE", "177.5")
    response = signed_in.get("/optionchain/table/", {"underlying": "NIFTY", "exchange": "NSE_INDEX",
                                                     "expiry": "29-DEC-26", "strikes": "2"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "<html" not in text and 'id="option-chain"' in text
    assert 'data-testid="ce-ltp">177.50<' in text


@pytest.mark.parametrize(("params", "message"), [
    ({"underlying": "NOSUCH", "exchange": "NSE_INDEX"}, "No option expiries found for NOSUCH on NFO."),
    ({"underlying": "NIFTY", "exchange": "MOON"}, "Choose an underlying and its exchange."),
    ({"underlying": "NIFTY", "exchange": "NSE_INDEX", "strikes": "many"}, "Strikes each side must be a whole number."),
    ({"underlying": "NIFTY", "exchange": "NSE_INDEX", "expiry": "05JAN27"},
     "No strikes found for NIFTY expiring 05JAN27. Please check expiry date or update master contract."),
    ({"underlying": "NIFTY", "exchange": "NSE_INDEX", "expiry": "garbage"},
     "Invalid expiry date garbage. Use DDMMMYY, e.g. 28OCT25."),
])
def test_bad_chain_requests_are_400_with_a_message(signed_in, chain, params, message):
    response = signed_in.get("/optionchain/", params)
    assert response.status_code == 400
    assert response.context["form"]["error"] == message
    assert 'data-testid="chain-error"' in response.content.decode()


def test_a_listed_symbol_without_a_price_shows_why_instead_of_failing(signed_in):
    make_instrument("ITC", "NSE")  # in the master contract, but the market has no price for it
    response = signed_in.get("/quote/", {"symbol": "ITC", "exchange": "NSE"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "No quote from sandbox right now" in text and 'data-testid="chart"' in text
