"""Fyers' symbol master -> OpenAlgo symbols, on real examples of every instrument kind
(tickers from the Fyers symbology documentation; rows in the documented column order)."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from brokers.base import InstrumentRow, UnparsableRow
from brokers.enums import Exchange
from brokers.fyers import client as fyers_client
from brokers.fyers.adapter import FyersAdapter
from brokers.fyers.instruments import SEGMENT_FILES, read_rows
from brokers.fyers.testing import fixture, order_world, synthetic_dump
from brokers.symbols import parse_symbol
from core.values import IST

D = Decimal


@pytest.fixture(scope="module")
def rows() -> dict[str, InstrumentRow]:
    read = [row for segment in SEGMENT_FILES for row in read_rows(fixture(f"{segment}.csv"), segment)]
    return {row.brsymbol: row for row in read if isinstance(row, InstrumentRow)}


@pytest.mark.parametrize(("ticker", "symbol", "exchange"), [
    ("NSE:SBIN-EQ", "SBIN", Exchange.NSE),
    ("NSE:M&M-EQ", "M&M", Exchange.NSE),
    ("BSE:SBIN-A", "SBIN", Exchange.BSE),
    ("NSE:NIFTY50-INDEX", "NIFTY", Exchange.NSE_INDEX),
    ("NSE:NIFTYBANK-INDEX", "BANKNIFTY", Exchange.NSE_INDEX),
    ("NSE:NIFTYAUTO-INDEX", "NIFTYAUTO", Exchange.NSE_INDEX),
    ("BSE:SENSEX-INDEX", "SENSEX", Exchange.BSE_INDEX),
    ("NSE:NIFTY20OCTFUT", "NIFTY29OCT20FUT", Exchange.NFO),
    ("NSE:SBIN20OCTFUT", "SBIN29OCT20FUT", Exchange.NFO),
    ("BSE:SENSEX23AUGFUT", "SENSEX25AUG23FUT", Exchange.BFO),
    ("NSE:NIFTY20OCT11000CE", "NIFTY29OCT2011000CE", Exchange.NFO),
    ("NSE:SBIN20OCT192.5PE", "SBIN29OCT20192.5PE", Exchange.NFO),
    ("NSE:NIFTY20O0811000CE", "NIFTY08OCT2011000CE", Exchange.NFO),
    ("BSE:SENSEX2381161000CE", "SENSEX11AUG2361000CE", Exchange.BFO),
    ("NSE:USDINR20OCTFUT", "USDINR28OCT20FUT", Exchange.CDS),
    ("NSE:USDINR20O0875CE", "USDINR08OCT2075CE", Exchange.CDS),
    ("NSE:GBPINR20NOV80.5PE", "GBPINR26NOV2080.5PE", Exchange.CDS),
    ("MCX:CRUDEOIL20OCTFUT", "CRUDEOIL19OCT20FUT", Exchange.MCX),
    ("MCX:GOLD20DEC40000PE", "GOLD24NOV2040000PE", Exchange.MCX),
])
def test_each_kind_of_ticker_becomes_its_openalgo_symbol(rows, ticker, symbol, exchange):
    row = rows[ticker]
    assert (row.symbol, row.exchange) == (symbol, exchange)


def test_a_weekly_option_takes_its_day_from_the_master_not_the_ticker(rows):
    weekly = rows["NSE:NIFTY20O0811000CE"]
    assert (weekly.expiry, weekly.strike, weekly.name, weekly.lotsize, weekly.instrumenttype) == (
        date(2020, 10, 8), D("11000.0"), "NIFTY", 75, "OPTIDX")
    assert weekly.token == "101120100841870" and weekly.brexchange == "NSE_FO"


def test_futures_carry_no_strike_and_their_kind(rows):
    future = rows["NSE:SBIN20OCTFUT"]
    assert (future.strike, future.expiry, future.instrumenttype, future.lotsize) == (
        None, date(2020, 10, 29), "FUTSTK", 3000)
    assert rows["MCX:CRUDEOIL20OCTFUT"].instrumenttype == "FUTCOM"
    assert rows["NSE:USDINR20OCTFUT"].tick_size == D("0.0025")


def test_cash_rows_keep_the_company_name_and_indices_have_no_type(rows):
    assert (rows["NSE:SBIN-EQ"].name, rows["NSE:SBIN-EQ"].instrumenttype, rows["NSE:SBIN-EQ"].token) == (
        "STATE BANK OF INDIA", "EQ", "10100000003045")
    assert (rows["NSE:NIFTY50-INDEX"].name, rows["NSE:NIFTY50-INDEX"].instrumenttype) == ("Nifty 50", "")


def test_freeze_quantity_stays_unknown_because_the_csv_has_none(rows):
    assert {row.freeze_qty for row in rows.values()} == {1}


def test_cash_series_we_do_not_trade_are_left_out(rows):
    assert "NSE:91D181226-TB" not in rows


def test_an_unreadable_row_is_handed_on_as_unparsable_never_raised():
    read = list(read_rows(fixture("NSE_FO.csv"), "NSE_FO"))
    bad = [row for row in read if isinstance(row, UnparsableRow)]
    assert len(bad) == 1 and "BROKEN ROW" in bad[0].raw and "expiry" in bad[0].reason
    assert len(read) == 6
    short = list(read_rows("1010,just,three\n\n", "NSE_CM"))
    assert len(short) == 1 and isinstance(short[0], UnparsableRow)


# --- Properties and the benchmark helpers --------------------------------------------------------

@given(day=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
       strike=st.decimals(min_value=D("0.25"), max_value=D("99999.75"), places=2),
       option=st.sampled_from(["CE", "PE"]), weekly=st.booleans())
def test_any_option_row_reads_back_to_its_expiry_strike_and_type(day, strike, option, weekly):
    epoch = int(datetime.combine(day, time(15, 30), IST).timestamp())
    month = "123456789OND"[day.month - 1] + f"{day.day:02d}" if weekly else day.strftime("%b").upper()
    ticker = f"NSE:NIFTY{day:%y}{month}{strike.normalize():f}{option}"
    line = (f"10112000000041870,NIFTY,14,65,0.05,,0915-1530:,2026-11-27,{epoch},{ticker},10,11,41870,NIFTY,26000,"
            f"{strike},{option},10100000026000,,,")
    [row] = read_rows(line, "NSE_FO")
    assert isinstance(row, InstrumentRow)
    parsed = parse_symbol(row.symbol, Exchange.NFO)
    assert (parsed.base, parsed.expiry, parsed.strike, str(parsed.option_type)) == ("NIFTY", day, strike, option)


def test_the_synthetic_dump_mixes_every_kind_and_lists_nse_sbin():
    fyers_client.close()
    with respx.mock() as router:
        synthetic_dump(router, 800)
        rows = list(FyersAdapter(None, None).master_contract())
    assert not [row for row in rows if isinstance(row, UnparsableRow)]
    kinds = {(row.exchange, row.instrumenttype) for row in rows if isinstance(row, InstrumentRow)}
    assert {(Exchange.NSE, "EQ"), (Exchange.NSE_INDEX, ""), (Exchange.NFO, "FUTSTK"), (Exchange.NFO, "OPTIDX"),
            (Exchange.BFO, "OPTIDX"), (Exchange.CDS, "OPTCUR"), (Exchange.MCX, "FUTCOM")} <= kinds
    assert any(row.symbol == "SBIN" and row.exchange == Exchange.NSE for row in rows if isinstance(row, InstrumentRow))
    assert 700 <= len(rows) <= 900


def test_order_world_answers_the_documented_placement():
    fyers_client.close()
    with respx.mock() as router:
        credentials, request = order_world(router)
        route = router.routes[0]
        body = fyers_client.FyersClient(credentials).post("/api/v3/orders/sync", {"symbol": "NSE:SBIN-EQ"})
    assert (request.symbol, request.exchange, request.pricetype) == ("SBIN", Exchange.NSE, "MARKET")
    assert body["id"] == "23080400089344" and route.called
