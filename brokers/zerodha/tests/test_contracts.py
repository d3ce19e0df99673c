"""Kite's instrument dump -> OpenAlgo symbols, on real rows of every kind (tests/fixtures/
instruments.csv: rows as Kite publishes them, from its mocks and forum examples)."""

from __future__ import annotations

import gzip
from datetime import date
from decimal import Decimal

import httpx
import pytest
import respx

from brokers.base import BrokerUnavailable, InstrumentRow, UnparsableRow
from brokers.enums import Exchange
from brokers.symbols import parse_symbol

from .. import client, contracts
from ..adapter import ZerodhaAdapter
from ..testing import FIXTURES, credentials

D = Decimal


@pytest.fixture(scope="module")
def rows() -> dict[str, InstrumentRow | UnparsableRow]:
    parsed = list(contracts.rows_of((FIXTURES / "instruments.csv").read_text()))
    return {row.brsymbol if isinstance(row, InstrumentRow) else row.raw.split(",")[2]: row for row in parsed}


@pytest.mark.parametrize(("brsymbol", "symbol", "exchange"), [
    ("SBIN", "SBIN", Exchange.NSE),  # equity
    ("CENTRALBK-BE", "CENTRALBK-BE", Exchange.NSE),  # trade-for-trade series stays its own instrument
    ("RELIANCE", "RELIANCE", Exchange.BSE),
    ("NIFTY 50", "NIFTY", Exchange.NSE_INDEX),  # indices
    ("NIFTY BANK", "BANKNIFTY", Exchange.NSE_INDEX),
    ("INDIA VIX", "INDIAVIX", Exchange.NSE_INDEX),
    ("SENSEX", "SENSEX", Exchange.BSE_INDEX),
    ("NIFTY24NOVFUT", "NIFTY28NOV24FUT", Exchange.NFO),  # index future
    ("NIFTY24NOV25000CE", "NIFTY28NOV2425000CE", Exchange.NFO),  # monthly option
    ("BANKNIFTY18JAN23500PE", "BANKNIFTY25JAN1823500PE", Exchange.NFO),
    ("NIFTY20D1713600CE", "NIFTY17DEC2013600CE", Exchange.NFO),  # weekly option (Kite's YY M DD form)
    ("SENSEX2640977100CE", "SENSEX09APR2677100CE", Exchange.BFO),  # weekly BSE option
    ("VEDL24NOV187.5CE", "VEDL28NOV24187.5CE", Exchange.NFO),  # half strike
    ("USDINR21JUNFUT", "USDINR28JUN21FUT", Exchange.CDS),  # currency future
    ("USDINR24MAY83.5PE", "USDINR29MAY2483.5PE", Exchange.CDS),  # currency option
    ("GOLDM21AUGFUT", "GOLDM05AUG21FUT", Exchange.MCX),  # commodity future
    ("SILVER21JULFUT", "SILVER05JUL21FUT", Exchange.MCX),
    ("CRUDEOIL24MAY6500CE", "CRUDEOIL16MAY246500CE", Exchange.MCX),  # commodity option
    ("ALUMINI26MAYFUT", "ALUMINI26MAYFUT", Exchange.NCO),  # NCO keeps its month-only form (spec 4.1)
])
def test_each_kind_of_kite_row_gets_its_openalgo_symbol(rows, brsymbol, symbol, exchange):
    row = rows[brsymbol]
    assert isinstance(row, InstrumentRow), row
    assert (row.symbol, row.exchange, row.brsymbol) == (symbol, exchange, brsymbol)
    parse_symbol(row.symbol, row.exchange)  # and it is a well-formed OpenAlgo symbol


def test_a_row_keeps_kites_token_exchange_and_contract_details(rows):
    option = rows["NIFTY20D1713600CE"]
    assert (option.token, option.brexchange, option.expiry, option.strike, option.lotsize, option.tick_size,
            option.instrumenttype, option.name) == ("10397954", "NFO", date(2020, 12, 17), D(13600), 75,
                                                    D("0.05"), "CE", "NIFTY")
    index = rows["NIFTY 50"]
    assert (index.token, index.brexchange, index.instrumenttype, index.lotsize, index.strike) == (
        "256265", "NSE", "", 1, None)
    assert rows["SBIN"].freeze_qty == 1  # Kite's dump has no freeze quantity: unknown


def test_an_unreadable_row_is_handed_on_as_unparsable_not_raised(rows):
    broken = rows["BROKEN"]
    assert isinstance(broken, UnparsableRow) and "not-a-date" in broken.raw


def test_a_short_row_is_unparsable():
    header = ",".join(contracts.INSTRUMENT_COLUMNS)
    parsed = list(contracts.rows_of(f"{header}\n1,2,SBIN\n"))
    assert isinstance(parsed[0], UnparsableRow) and "3 columns" in parsed[0].reason


def test_a_dump_with_other_columns_is_refused_whole():
    with pytest.raises(BrokerUnavailable):
        list(contracts.rows_of("token,symbol\n1,SBIN\n"))


@pytest.mark.parametrize("encoded", ["gzip-body", "gzip-encoding"])
def test_the_dump_is_downloaded_with_kites_headers_gzipped_or_not(encoded):
    body = gzip.compress((FIXTURES / "instruments.csv").read_bytes())
    headers = {"Content-Encoding": "gzip"} if encoded == "gzip-encoding" else {}
    client.close()
    with respx.mock(base_url=client.DEFAULT_BASE_URL) as router:
        route = router.get("/instruments").mock(return_value=httpx.Response(200, content=body, headers=headers))
        parsed = list(ZerodhaAdapter(None, credentials()).master_contract())
    client.close()
    assert route.calls.last.request.headers["X-Kite-Version"] == "3"
    assert route.calls.last.request.headers["Authorization"] == "token kite-app-key:kite-access-token-0001"
    assert sum(isinstance(row, InstrumentRow) for row in parsed) == 19
