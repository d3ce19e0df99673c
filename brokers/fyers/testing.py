"""Fyers in tests: a small stateful Fyers (API v3) served with respx, answering in the
documented shapes (tests/fixtures/ keeps the documented samples), the hook that makes the
shared contract suite run over Fyers, and the helpers the lead's benchmarks use
(``synthetic_dump``, ``order_world``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from brokers import contract_env
from brokers.base import BrokerCredentials, OrderRequest
from brokers.contract_env import ContractEnvironment
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.selectors import lookup_cache
from core.values import IST

from . import client as fyers_client
from .fake import (  # noqa: F401  (what tests import from here)
    APP_ID,
    APP_SECRET,
    AUTH_CODE,
    HSM_KEY,
    TOKEN,
    FakeFyers,
    credentials,
    fixture,
    jwt,
)
from .instruments import SEGMENT_FILES

D = Decimal


def load_instruments(rows: Iterator[Any]) -> int:
    """Put Fyers' master contract in the table (tests of the adapter alone)."""
    return contract_env.load_instruments("fyers", rows)


@contextmanager
def serving() -> Iterator[FakeFyers]:
    """Fyers' API and symbol master answered by a FakeFyers while the block runs (respx active)."""
    exchange = FakeFyers()
    fyers_client.close()
    with respx.mock(assert_all_called=False) as router:
        router.route(host=httpx.URL(fyers_client.PUBLIC.base_url).host).mock(side_effect=exchange.serve_master)
        router.route(host=httpx.URL(fyers_client.HTTP.base_url).host).mock(side_effect=exchange.serve)
        yield exchange
    fyers_client.close()


def load_market(exchange: FakeFyers) -> None:
    """The exchange's master contract loaded, as after the daily download."""
    from .adapter import FyersAdapter

    load_instruments(iter(FyersAdapter(None, credentials()).master_contract()))
    exchange.calls.clear()
    exchange.requests.clear()


@pytest.fixture
def fyers_exchange() -> Iterator[FakeFyers]:
    with serving() as exchange:
        yield exchange


@pytest.fixture
def fyers_market(db, fyers_exchange) -> Iterator[FakeFyers]:
    load_market(fyers_exchange)
    yield fyers_exchange
    lookup_cache.clear()


@pytest.fixture
def fyers_contract(db) -> Iterator[ContractEnvironment]:
    """Self-contained (the shared suite imports only this fixture from here)."""
    with serving() as exchange:
        load_market(exchange)
        yield ContractEnvironment("fyers", credentials, exchange)
    lookup_cache.clear()


# --- Benchmarks ---------------------------------------------------------------------------------

def _line(fytoken: str, details: str, kind: int, lot: int, tick: str, expiry: int, ticker: str, exchange: int,
          segment: int, underlying: str, strike: str, option: str) -> str:
    return (f"{fytoken},{details},{kind},{lot},{tick},,0915-1530|1815-1915:,2026-11-27,{expiry},{ticker},{exchange},"
            f"{segment},{fytoken[10:]},{underlying},0,{strike},{option},,,,")


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKLY_MONTH = "123456789OND"


def _expiry(day: date) -> int:
    return int(datetime.combine(day, time(15, 30), IST).timestamp())


def synthetic_dump(router: respx.MockRouter, rows: int) -> None:
    """Route every segment file to a generated dump of about ``rows`` rows in Fyers' CSV
    format: equities (NSE SBIN first), indices, stock and index futures, weekly and monthly
    options, currency and commodity contracts."""
    per_kind = max(1, rows // 8)
    monthly, weekly = date(2026, 12, 29), date(2026, 12, 22)
    texts: dict[str, list[str]] = {segment: [] for segment in SEGMENT_FILES}
    texts["NSE_CM"].append(_line("10100000003045", "STATE BANK OF INDIA", 0, 1, "0.05", 0, "NSE:SBIN-EQ", 10, 10,
                                 "SBIN", "-1.0", "XX"))
    texts["NSE_CM"].append(_line("10100000026000", "Nifty 50", 10, 1, "0.05", 0, "NSE:NIFTY50-INDEX", 10, 10,
                                 "NIFTY50", "-1.0", "XX"))
    for n in range(per_kind):
        texts["NSE_CM"].append(_line(f"1010000000{900000 + n}", f"STOCK {n}", 0, 1, "0.05", 0, f"NSE:STK{n}-EQ", 10, 10,
                                     f"STK{n}", "-1.0", "XX"))
        texts["BSE_CM"].append(_line(f"1210000000{800000 + n}", f"STOCK {n}", 0, 1, "0.05", 0, f"BSE:STK{n}-A", 12, 10,
                                     f"STK{n}", "-1.0", "XX"))
    for n in range(per_kind):
        strike = 20000 + 50 * n
        month = _MONTHS[monthly.month - 1]
        texts["NSE_FO"].append(_line(f"1011261229{100000 + n}", f"STK{n} FUT", 13, 500, "0.05", _expiry(monthly),
                                     f"NSE:STK{n}26{month}FUT", 10, 11, f"STK{n}", "-1.0", "XX"))
        texts["NSE_FO"].append(_line(f"1011261229{300000 + n}", "NIFTY CE", 14, 65, "0.05", _expiry(monthly),
                                     f"NSE:NIFTY26{month}{strike}CE", 10, 11, "NIFTY", f"{strike}.0", "CE"))
        texts["NSE_FO"].append(_line(f"1011261222{500000 + n}", "NIFTY PE", 14, 65, "0.05", _expiry(weekly),
                                     f"NSE:NIFTY26{_WEEKLY_MONTH[weekly.month - 1]}{weekly.day:02d}{strike}PE", 10, 11,
                                     "NIFTY", f"{strike}.0", "PE"))
        texts["BSE_FO"].append(_line(f"1211261222{200000 + n}", "SENSEX CE", 14, 20, "0.05", _expiry(weekly),
                                     f"BSE:SENSEX26{_WEEKLY_MONTH[weekly.month - 1]}{weekly.day:02d}{strike}CE", 12, 11,
                                     "SENSEX", f"{strike}.0", "CE"))
        texts["NSE_CD"].append(_line(f"1012261229{n:06d}", "USDINR CE", 19, 1, "0.0025", _expiry(monthly),
                                     f"NSE:USDINR26{month}{80 + n * 0.25}CE", 10, 12, "USDINR", f"{80 + n * 0.25}",
                                     "CE"))
        texts["MCX_COM"].append(_line(f"1120261217{400000 + n}", "CRUDEOIL FUT", 30, 100, "1.0",
                                      _expiry(date(2026, 12, 17) + timedelta(days=n % 300)),
                                      f"MCX:CRUDEOIL{n}26DECFUT", 11, 20, f"CRUDEOIL{n}", "-1.0", "XX"))
    base = fyers_client.PUBLIC.base_url
    for segment, lines in texts.items():
        router.get(f"{base}/sym_details/{segment}.csv").respond(text="\n".join(lines) + "\n")


def order_world(router: respx.MockRouter) -> tuple[BrokerCredentials, OrderRequest]:
    """The place-order endpoint answering its documented success, and an NSE SBIN market
    order with the credentials to send it (the instruments of ``synthetic_dump`` loaded)."""
    router.post(f"{fyers_client.HTTP.base_url}/api/v3/orders/sync").respond(json=fixture("place_order.json"))
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=D(1),
                           product=Product.MIS, pricetype=PriceType.MARKET, tag="oa1")
    return credentials(), request
