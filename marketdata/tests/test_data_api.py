"""Quotes, multiquotes, depth, history and ticker through HTTP (spec §7)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from marketdata.models import StoredCandle

UNKNOWN = ("Symbol 'NOPE' not found for exchange 'NSE'. Please verify the symbol name and ensure master "
           "contracts are downloaded.")


@pytest.fixture
def call(api_call, market):
    return api_call


def test_quotes(call):
    status, body = call("quotes", symbol="SBIN", exchange="NSE")
    assert status == 200
    assert body["data"] == {"open": 800.0, "high": 800.0, "low": 800.0, "ltp": 800.0, "ask": 800.05,
                            "bid": 799.95, "prev_close": 800.0, "volume": 1000, "oi": 0}


def test_quotes_for_an_unknown_symbol_is_400(call):
    assert call("quotes", symbol="NOPE", exchange="NSE") == (400, {"status": "error", "message": UNKNOWN})


def test_multiquotes_put_unknown_symbols_first_under_results(call):
    status, body = call("multiquotes", symbols=[{"symbol": "SBIN", "exchange": "NSE"},
                                                {"symbol": "NOPE", "exchange": "NSE"}])
    assert status == 200
    assert [r["symbol"] for r in body["results"]] == ["NOPE", "SBIN"]
    assert body["results"][0]["error"] == UNKNOWN and body["results"][1]["data"]["ltp"] == 800.0
    status, body = call("multiquotes", symbols=[{"symbol": "NOPE", "exchange": "NSE"}])
    assert status == 400 and body["invalid_symbols"][0]["symbol"] == "NOPE"
    assert call("multiquotes", symbols=[])[0] == 400


def test_depth_has_exactly_five_levels_best_first(call):
    status, body = call("depth", symbol="SBIN", exchange="NSE")
    data = body["data"]
    assert status == 200 and len(data["bids"]) == len(data["asks"]) == 5
    assert data["bids"][0] == {"price": 799.95, "quantity": 100}
    assert data["asks"][0] == {"price": 800.05, "quantity": 50}
    assert [b["price"] for b in data["bids"]] == sorted((b["price"] for b in data["bids"]), reverse=True)
    assert data["totalbuyqty"] == 1500 and data["totalsellqty"] == 750


def test_intraday_history_has_integer_epoch_timestamps_ascending(call):
    status, body = call("history", symbol="SBIN", exchange="NSE", interval="5m", start_date="2026-11-23",
                        end_date="2026-11-23", source="api")
    assert status == 200
    stamps = [row["timestamp"] for row in body["data"]]
    assert stamps == sorted(set(stamps)) and all(isinstance(s, int) for s in stamps)
    assert stamps[0] == int(datetime(2026, 11, 23, 3, 45, tzinfo=UTC).timestamp())  # 09:15 IST
    assert set(body["data"][0]) == {"timestamp", "open", "high", "low", "close", "volume", "oi"}


def test_daily_bars_carry_midnight_utc_of_the_ist_date_and_weeks_aggregate(call):
    _, body = call("history", symbol="SBIN", exchange="NSE", interval="D", start_date="2026-11-16",
                        end_date="2026-11-22")
    assert [datetime.fromtimestamp(r["timestamp"], UTC).isoformat() for r in body["data"]] == [
        f"2026-11-{day}T00:00:00+00:00" for day in range(16, 21)]
    _status, body = call("history", symbol="SBIN", exchange="NSE", interval="W", start_date="2026-11-16",
                        end_date="2026-11-22")
    (week,) = body["data"]
    assert week["timestamp"] == int(datetime(2026, 11, 16, tzinfo=UTC).timestamp())
    assert week["volume"] == 5000


def test_history_is_stored_and_served_back_from_the_local_store(call):
    assert call("history", symbol="SBIN", exchange="NSE", interval="1m", start_date="2026-11-23",
                end_date="2026-11-23", source="db")[0] == 404
    _, fetched = call("history", symbol="SBIN", exchange="NSE", interval="1m", start_date="2026-11-23",
                      end_date="2026-11-23")
    assert StoredCandle.objects.count() == len(fetched["data"])
    status, stored = call("history", symbol="SBIN", exchange="NSE", interval="1m", start_date="2026-11-23",
                          end_date="2026-11-23", source="db")
    assert (status, stored["data"]) == (200, fetched["data"])


@pytest.mark.parametrize(("change", "field"), [({"interval": "2W"}, "interval"),
                                               ({"start_date": "23-11-2026"}, "start_date"),
                                               ({"end_date": "2026-11-01"}, "end_date")])
def test_history_field_errors(call, change, field):
    body = {"symbol": "SBIN", "exchange": "NSE", "interval": "1m", "start_date": "2026-11-23",
            "end_date": "2026-11-23", **change}
    status, answer = call("history", **body)
    assert status == 400 and field in answer["message"]


def test_ticker_as_json_and_text(client, api_key, market):
    response = client.get("/api/v1/ticker/NSE:SBIN", {"apikey": api_key, "from": "2026-11-23", "to": "2026-11-24"})
    assert response.status_code == 200 and len(response.json()["data"]) == 2
    response = client.get("/api/v1/ticker/NSE:SBIN", {"apikey": api_key, "interval": "D", "from": "2026-11-23",
                                                      "to": "2026-11-23", "format": "txt"})
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == "NSE:SBIN,2026-11-23,800.0,801.0,799.0,800.0,1000\n"
    response = client.get("/api/v1/ticker/SBIN", {"apikey": api_key, "from": "2026-11-23", "to": "2026-11-23"})
    assert response.status_code == 400
    response = client.get("/api/v1/ticker/NSE:SBIN", {"apikey": "bad", "from": "2026-11-23", "to": "2026-11-23"})
    assert response.status_code == 403


def test_multiquotes_use_the_brokers_batch_call_in_chunks_of_its_size(call, market, monkeypatch):
    """A broker with a batch quote call (capabilities.batch_quotes) answers multiquotes in
    calls of at most that many instruments, in request order; what it lacks says so."""
    from dataclasses import replace

    from brokers.sandbox.testing import make_instrument
    from marketdata import data_api

    real = data_api.data_adapter
    batches: list[list[str]] = []

    class Batching:
        def __init__(self, inner):
            self.inner = inner
            self.name = inner.name
            self.capabilities = replace(inner.capabilities, batch_quotes=2)

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def quotes(self, items):
            batches.append([symbol for symbol, _ in items])
            return {(s, e): self.inner.quote(s, e) for s, e in items if s != "INFY"}

    make_instrument("INFY", "NSE")
    make_instrument("TCS", "NSE")
    market.set("NSE:TCS", "3000")
    monkeypatch.setattr(data_api, "data_adapter", lambda user: Batching(real(user)))
    symbols = ["SBIN", "RELIANCE", "INFY", "TCS", "NOPE"]
    status, body = call("multiquotes", symbols=[{"symbol": s, "exchange": "NSE"} for s in symbols])
    assert status == 200
    assert batches == [["SBIN", "RELIANCE"], ["INFY", "TCS"]]
    assert [r["symbol"] for r in body["results"]] == ["NOPE", "SBIN", "RELIANCE", "INFY", "TCS"]
    assert body["results"][3] == {"symbol": "INFY", "exchange": "NSE", "error": "No quote data available"}
    assert body["results"][1]["data"]["ltp"] == 800.0 and body["results"][4]["data"]["ltp"] == 3000.0
