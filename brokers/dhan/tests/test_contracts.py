"""Dhan's scrip master -> OpenAlgo symbols, on real shapes of every instrument kind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import respx

from brokers.base import InstrumentRow, UnparsableRow
from brokers.enums import Exchange

from .. import contracts
from ..client import SCRIP_MASTER_URL
from ..testing import sample_scrip_master, synthetic_dump

D = Decimal


@pytest.fixture(scope="module")
def rows():
    parsed = list(contracts.read_scrip_master(sample_scrip_master()))
    return {row.token: row for row in parsed if isinstance(row, InstrumentRow)}, [
        row for row in parsed if isinstance(row, UnparsableRow)]


@pytest.mark.parametrize(("token", "symbol", "exchange", "brexchange"), [
    ("1333", "HDFCBANK", Exchange.NSE, "NSE_EQ"),  # equity (docs' sample id)
    ("3045", "SBIN", Exchange.NSE, "NSE_EQ"),
    ("500112", "SBIN", Exchange.BSE, "BSE_EQ"),
    ("13", "NIFTY", Exchange.NSE_INDEX, "IDX_I"),  # index
    ("21", "INDIAVIX", Exchange.NSE_INDEX, "IDX_I"),
    ("51", "SENSEX", Exchange.BSE_INDEX, "IDX_I"),
    ("35006", "NIFTY28NOV24FUT", Exchange.NFO, "NSE_FNO"),  # index future
    ("52166", "SBIN26DEC24FUT", Exchange.NFO, "NSE_FNO"),  # stock future
    ("43854", "NIFTY28NOV2425000CE", Exchange.NFO, "NSE_FNO"),  # monthly option
    ("43707", "NIFTY21NOV2423500CE", Exchange.NFO, "NSE_FNO"),  # weekly option, same month
    ("46001", "BANKNIFTY13NOV2451000PE", Exchange.NFO, "NSE_FNO"),  # weekly
    ("1128432", "SENSEX29NOV2480000PE", Exchange.BFO, "BSE_FNO"),
    ("47350", "BAJAJ-AUTO28NOV249500CE", Exchange.NFO, "NSE_FNO"),  # a hyphen in the underlying
    ("8386", "USDINR27NOV24FUT", Exchange.CDS, "NSE_CURRENCY"),  # currency
    ("14237", "USDINR29NOV2483.5CE", Exchange.CDS, "NSE_CURRENCY"),
    ("430106", "CRUDEOIL18DEC24FUT", Exchange.MCX, "MCX_COMM"),  # commodity
    ("445003", "GOLD24DEC2462000PE", Exchange.MCX, "MCX_COMM"),
])
def test_every_instrument_kind_gets_its_openalgo_symbol(rows, token, symbol, exchange, brexchange):
    row = rows[0][token]
    assert (row.symbol, row.exchange, row.brexchange, row.token) == (symbol, exchange, brexchange, token)


def test_derivative_rows_carry_underlying_expiry_strike_lot_and_tick(rows):
    option = rows[0]["43854"]
    assert (option.name, option.expiry, option.strike, option.lotsize, option.tick_size, option.instrumenttype) == (
        "NIFTY", date(2024, 11, 28), D(25000), 25, D("0.05"), "OPTIDX")
    assert option.brsymbol == "NIFTY-Nov2024-25000-CE"
    weekly = rows[0]["43707"]
    assert weekly.expiry == date(2024, 11, 21)  # the day comes from SEM_EXPIRY_DATE, not the month-only symbol
    currency = rows[0]["14237"]
    assert (currency.strike, currency.tick_size) == (D("83.5"), D("0.0025"))  # tick in paise / 100
    assert rows[0]["430106"].tick_size == D(1) and rows[0]["430106"].lotsize == 100
    assert rows[0]["47350"].name == "BAJAJ-AUTO"
    equity, index = rows[0]["3045"], rows[0]["13"]
    assert (equity.instrumenttype, equity.expiry, equity.strike, equity.name) == ("EQ", None, None,
                                                                                  "STATE BANK OF INDIA")
    assert index.instrumenttype == "" and index.name == "NIFTY"


def test_unreadable_rows_are_handed_on_never_raised(rows):
    reasons = sorted(row.reason for row in rows[1])
    assert len(reasons) == 3  # an option without CE/PE, a mutual fund, a future without a date
    assert any("CE/PE" in reason for reason in reasons)
    assert any("MUTUALFUND" in reason for reason in reasons)


def test_column_order_and_padding_do_not_matter():
    text = ("SEM_TRADING_SYMBOL , SEM_SMST_SECURITY_ID,SEM_EXM_EXCH_ID,SEM_INSTRUMENT_NAME,SEM_TICK_SIZE\n"
            "SBIN,3045,NSE,EQUITY,5.0000\n")
    [row] = contracts.read_scrip_master(text)
    assert isinstance(row, InstrumentRow) and row.symbol == "SBIN" and row.lotsize == 1


def test_the_synthetic_dump_mixes_every_kind_and_reads_whole():
    with respx.mock() as router:
        synthetic_dump(router, 2000)
        parsed = list(contracts.master_contract())
        assert [str(call.request.url) for call in router.calls] == [SCRIP_MASTER_URL]
    good = [row for row in parsed if isinstance(row, InstrumentRow)]
    assert len(parsed) == 2000 and len(good) == 2000
    assert {row.exchange for row in good} >= {Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO, Exchange.CDS,
                                              Exchange.BCD, Exchange.MCX, Exchange.NSE_INDEX}
    assert any(row.symbol == "SBIN" and row.exchange == Exchange.NSE for row in good)
