"""The sandbox's master contract and the simulated market behind the real API (no tape)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command

from brokers.models import Instrument
from brokers.sandbox.contracts import load_sandbox_universe
from brokers.sandbox.listing import NIFTY50
from brokers.symbols import parse_symbol

TODAY = date(2026, 11, 24)


@pytest.fixture
def universe(db):
    load_sandbox_universe(TODAY)


def test_the_universe_lists_nifty50_indices_chains_and_a_few_mcx_and_cds_contracts(universe):
    rows = Instrument.objects.filter(broker="sandbox")
    assert rows.filter(exchange="NSE").count() == rows.filter(exchange="BSE").count() == len(NIFTY50) == 50
    sbin = rows.get(exchange="NSE", symbol="SBIN")
    assert (sbin.lotsize, sbin.tick_size, sbin.instrumenttype) == (1, Decimal("0.05"), "EQ")
    assert set(rows.filter(exchange="NSE_INDEX").values_list("symbol", flat=True)) >= {
        "NIFTY", "BANKNIFTY", "FINNIFTY", "MIDCPNIFTY"}
    assert rows.filter(exchange="BSE_INDEX", symbol="SENSEX").exists()
    nifty_weeklies = sorted(set(rows.filter(exchange="NFO", name="NIFTY", option_type="CE")
                                .values_list("expiry", flat=True)))
    assert nifty_weeklies[0] == date(2026, 12, 1) and all(d.weekday() == 1 for d in nifty_weeklies)
    assert rows.filter(exchange="NFO", name="NIFTY", option_type="").first().lotsize == 65
    assert all(d.weekday() == 3 for d in rows.filter(exchange="BFO", name="SENSEX").values_list("expiry", flat=True))
    assert rows.filter(exchange="MCX", name="CRUDEOIL").exists() and rows.filter(exchange="CDS", name="USDINR").exists()


def test_every_symbol_parses_back_to_its_row(universe):
    for row in Instrument.objects.filter(broker="sandbox").exclude(exchange__in=["NSE", "BSE"])[:3000]:
        parsed = parse_symbol(row.symbol, row.exchange)
        assert parsed.expiry == row.expiry
        if row.option_type:
            assert (parsed.strike, parsed.option_type) == (row.strike, row.option_type)


def test_loading_again_adds_nothing_and_a_later_day_rolls_the_chains_forward(universe):
    assert load_sandbox_universe(TODAY) == 0
    added = load_sandbox_universe(date(2027, 1, 6))
    assert added > 0
    assert Instrument.objects.filter(exchange="NFO", name="NIFTY", expiry=date(2027, 2, 2)).exists()


def test_the_management_command(db, capsys):
    call_command("loadsandbox")
    assert "instruments added" in capsys.readouterr().out


def test_the_api_trades_and_quotes_on_the_simulated_market(universe, post_json, api_key):
    quote = post_json("/api/v1/quotes", {"apikey": api_key, "symbol": "SBIN", "exchange": "NSE"}).json()["data"]
    assert quote["ltp"] > 0 and quote["bid"] < quote["ask"]
    placed = post_json("/api/v1/placeorder", {"apikey": api_key, "strategy": "t", "symbol": "SBIN", "exchange": "NSE",
                                               "action": "BUY", "quantity": "3"}).json()
    status = post_json("/api/v1/orderstatus", {"apikey": api_key, "strategy": "t",
                                               "orderid": placed["orderid"]}).json()["data"]
    assert status["order_status"] == "complete" and status["average_price"] > 0
    chain = post_json("/api/v1/optionchain", {"apikey": api_key, "underlying": "NIFTY", "exchange": "NSE_INDEX",
                                               "expiry_date": "29DEC26", "strike_count": 2}).json()
    assert len(chain["chain"]) == 5 and chain["chain"][2]["ce"]["label"] == "ATM"
    depth = post_json("/api/v1/depth", {"apikey": api_key, "symbol": "NIFTY29DEC26FUT", "exchange": "NFO"}).json()
    assert len(depth["data"]["bids"]) == 5 and depth["data"]["bids"][0]["quantity"] % 65 == 0
