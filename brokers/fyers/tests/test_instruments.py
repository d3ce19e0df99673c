"""Fyers' symbol master -> OpenAlgo symbols, on real examples of every instrument kind
(tickers from the Fyers symbology documentation; rows in the documented column order)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from brokers.base import InstrumentRow, UnparsableRow
from brokers.enums import Exchange
from brokers.fyers.instruments import SEGMENT_FILES, read_rows
from brokers.fyers.testing import fixture

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
