"""Upstox in tests: a small stateful exchange answering Upstox's documented API over respx
(bodies built from the documented samples kept in tests/fixtures/), the hook that makes
the shared contract suite run over Upstox, and the benchmarks' helpers (synthetic_dump,
order_world). The exchange fills market orders at the last price, rests limits away
from it, turns trades into positions, rejects an order it cannot fund the way Upstox
does (an order id, then status "rejected" with the RMS text), and can make the next
request fail in each way a real broker fails."""

from __future__ import annotations

import copy
import gzip
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import respx

from brokers.base import BrokerCredentials, OrderRequest
from brokers.contract_env import ContractEnvironment
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.selectors import lookup_cache

from . import client as upstox_client

D = Decimal
FIXTURES = Path(__file__).parent / "tests" / "fixtures"
API_KEY, API_SECRET, CODE = "upstox-client-id", "upstox-client-secret", "upstox-one-time-code"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.upstox-access"
SBIN = "NSE_EQ|INE062A01020"
IST = timezone(timedelta(hours=5, minutes=30))
FAILURES = ("timeout", "5xx", "malformed", "429", "expired", "disconnect")
FUNDS_SHORT = "You need to add Rs. {short:.2f} to place this trade. Check your Funds tab for more details."
ORDER_PATHS = ("/v3/order/place", "/v3/order/modify", "/v3/order/cancel")


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _ok(data: object, status: int = 200, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"status": "success", "data": data, **extra})


def _error(status: int, code: str, message: str) -> httpx.Response:
    entry = {"errorCode": code, "message": message, "propertyPath": None, "invalidValue": None,
             "error_code": code, "property_path": None, "invalid_value": None}
    return httpx.Response(status, json={"status": "error", "errors": [entry]})


def _hosts() -> list[str]:
    urls = (upstox_client.HTTP.base_url, upstox_client.hft_url(), upstox_client.instruments_url())
    return sorted({urlsplit(url).netloc for url in urls})


class UpstoxExchange:
    """Upstox's server side, in memory."""

    def __init__(self) -> None:
        self.instruments: list[dict[str, Any]] = fixture("instruments.json")
        self.by_key = {row["instrument_key"]: row for row in self.instruments}
        self.prices: dict[str, Decimal] = {
            SBIN: D("800"), "NSE_EQ|INE848E01016": D("45.8"), "NSE_INDEX|Nifty 50": D("24000"),
            "NSE_INDEX|Nifty Bank": D("51000"), "BSE_INDEX|SENSEX": D("80000"), "NSE_FO|35001": D("24100"),
            "NSE_FO|52567": D("570"), "NSE_FO|35002": D("150"), "NSE_FO|37590": D("20"), "NSE_FO|51834": D("35"),
            "BSE_FO|1140390": D("300"), "NCD_FO|1262": D("84.3"), "NCD_FO|11503": D("0.12"),
            "MCX_FO|430106": D("6000"), "MCX_FO|439488": D("900"),
        }
        self.cash = D("100000")
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.holdings: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.tokens = {TOKEN}
        self.codes = {CODE}
        self.calls: list[str] = []
        self.requests: list[httpx.Request] = []
        self._ids = itertools.count(250101000000001)

    # --- Test controls -----------------------------------------------------------------------

    def fail_next(self, kind: str) -> None:
        if kind not in FAILURES:
            raise ValueError(f"unknown failure {kind!r}")
        self.failures.append(kind)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def fill(self, orderid: str) -> None:
        order = self.orders[orderid]
        self._fill(order, self.prices[order["instrument_token"]])

    def order_calls(self) -> list[str]:
        return [call for call in self.calls if call.split(" ", 1)[1] in ORDER_PATHS]

    # --- Server --------------------------------------------------------------------------------

    def serve(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        self.requests.append(request)
        if self.failures:
            failed = self._fail(self.failures.pop(0), request)
            if failed is not None:
                return failed
        path, method = request.url.path, request.method
        if str(request.url).split("?", 1)[0] == upstox_client.instruments_url():
            return httpx.Response(200, content=gzip.compress(json.dumps(self.instruments).encode()),
                                  headers={"Content-Type": "application/octet-stream"})
        if (method, path) == ("POST", "/v2/login/authorization/token"):
            return self._token(request)
        if request.headers.get("Authorization", "") not in {f"Bearer {token}" for token in self.tokens}:
            return _error(401, "UDAPI100050", "Invalid token used to access API")
        params = request.url.params
        routes = {
            ("DELETE", "/v2/logout"): lambda: self._logout(request),
            ("POST", "/v3/order/place"): lambda: self._place(json.loads(request.content)),
            ("PUT", "/v3/order/modify"): lambda: self._modify(json.loads(request.content)),
            ("DELETE", "/v3/order/cancel"): lambda: self._cancel(params.get("order_id", "")),
            ("GET", "/v2/order/retrieve-all"): lambda: _ok(list(self.orders.values())),
            ("GET", "/v2/order/details"): lambda: self._details(params.get("order_id", "")),
            ("GET", "/v2/order/trades/get-trades-for-day"): lambda: _ok(self.trades),
            ("GET", "/v2/portfolio/short-term-positions"): lambda: _ok(self._positions()),
            ("GET", "/v2/portfolio/long-term-holdings"): lambda: _ok(self.holdings),
            ("GET", "/v3/user/get-funds-and-margin"): lambda: self._funds(request),
            ("GET", "/v2/market-quote/quotes"): lambda: self._quotes(params.get("instrument_key", "")),
            ("POST", "/v2/charges/margin"): lambda: self._margin(json.loads(request.content)),
            ("GET", "/v3/feed/market-data-feed/authorize"): lambda: httpx.Response(
                200, json=fixture("feed_authorize.json")),
            ("GET", "/v2/feed/portfolio-stream-feed/authorize"): lambda: httpx.Response(
                200, json=fixture("portfolio_authorize.json")),
        }
        if (method, path) in routes:
            return routes[(method, path)]()
        if method == "GET" and path.startswith("/v3/historical-candle/"):
            return self._candles(unquote(path.removeprefix("/v3/historical-candle/")))
        return _error(404, "UDAPI10000", f"This request is not supported by Upstox API: {method} {path}")

    def _fail(self, kind: str, request: httpx.Request) -> httpx.Response | None:
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "disconnect":
            raise httpx.ConnectError("connection refused", request=request)
        if kind == "5xx":
            return httpx.Response(503, text="<html>Service Unavailable</html>")
        if kind == "malformed":
            return httpx.Response(200, text='{"status": "success", "data": [')
        if kind == "429":
            return httpx.Response(429, json=fixture("error_rate_limit.json"))
        self.expire_tokens()
        return None

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = {key: values[0] for key, values in parse_qs(request.content.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (API_KEY, API_SECRET):
            return _error(401, "UDAPI100016", "Invalid Credentials")
        if form.get("grant_type") != "authorization_code" or not form.get("redirect_uri"):
            return _error(400, "UDAPI100068", "Check your 'client_id' and 'redirect_uri'; one or both are incorrect")
        if form.get("code") not in self.codes:
            return _error(400, "UDAPI100057", "Invalid Auth code")
        self.codes.discard(form["code"])  # a code works once
        self.tokens.add(TOKEN)
        return httpx.Response(200, json={**fixture("token_reply.json"), "access_token": TOKEN})

    def _logout(self, request: httpx.Request) -> httpx.Response:
        self.tokens.discard(request.headers["Authorization"].removeprefix("Bearer "))
        return _ok(True)

    def _row(self, key: str, body: dict[str, Any], orderid: str, quantity: int) -> dict[str, Any]:
        instrument = self.by_key[key]
        row = copy.deepcopy(fixture("order_details.json")["data"])
        row.update(
            exchange=_ROW_EXCHANGE[instrument["segment"]], product=body["product"], price=body.get("price", 0.0),
            quantity=quantity, status="open", tag=body.get("tag") or None, instrument_token=key,
            trading_symbol=instrument["trading_symbol"], tradingsymbol=instrument["trading_symbol"],
            order_type=body["order_type"], validity=body.get("validity", "DAY"),
            trigger_price=body.get("trigger_price", 0.0), disclosed_quantity=body.get("disclosed_quantity", 0),
            transaction_type=body["transaction_type"], average_price=0.0, filled_quantity=0,
            pending_quantity=quantity, status_message=None, status_message_raw=None, exchange_order_id="",
            order_id=orderid, order_timestamp=datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S"),
            exchange_timestamp=None,
        )
        return row

    def _place(self, body: dict[str, Any]) -> httpx.Response:
        key = body.get("instrument_token", "")
        if key not in self.by_key:
            return _error(400, "UDAPI1087", "Invalid Instrument key")
        instrument = self.by_key[key]
        quantity = int(body["quantity"])
        lot = 1 if instrument["segment"] == "MCX_FO" else int(instrument.get("lot_size") or 1)  # MCX: lots
        if quantity <= 0 or quantity % lot:
            return _error(400, "UDAPI1004", f"Quantity should be in multiples of lot size {lot}")
        freeze = int(instrument.get("freeze_quantity") or 0)
        if freeze and quantity > freeze and not body.get("slice"):
            return _error(400, "UDAPI1055", f"Quantity exceeds the freeze limit of {freeze}")
        parts = [freeze] * (quantity // freeze) + ([quantity % freeze] if quantity % freeze else []) \
            if freeze and quantity > freeze else [quantity]
        ids = []
        for part in parts:
            orderid = str(next(self._ids))
            self.orders[orderid] = self._row(key, body, orderid, part)
            self._match(self.orders[orderid])
            ids.append(orderid)
        return _ok({"order_ids": ids}, metadata={"latency": 30})

    def _match(self, order: dict[str, Any]) -> None:
        ltp = self.prices[order["instrument_token"]]
        buying = order["transaction_type"] == "BUY"
        if order["order_type"] in ("SL", "SL-M"):
            order["status"] = "trigger pending"
            return
        limit = D(str(order["price"] or 0))
        if order["order_type"] == "LIMIT" and (limit < ltp if buying else limit > ltp):
            return
        units = order["quantity"] * (int(self.by_key[order["instrument_token"]]["lot_size"])
                                     if order["exchange"] == "MCX" else 1)
        required = ltp * units
        if buying and required > self.cash:
            order.update(status="rejected", status_message=FUNDS_SHORT.format(short=required - self.cash),
                         status_message_raw="RMS:Margin Exceeds")
            return
        self._fill(order, ltp)

    def _fill(self, order: dict[str, Any], price: Decimal) -> None:
        order.update(status="complete", filled_quantity=order["quantity"], pending_quantity=0,
                     average_price=float(price), exchange_order_id=f"13{order['order_id'][-12:]}")
        trade = copy.deepcopy(fixture("trades.json")["data"][0])
        stamp = datetime.now(IST).strftime("%d-%b-%Y %H:%M:%S")
        trade.update(exchange=order["exchange"], product=order["product"], trading_symbol=order["trading_symbol"],
                     tradingsymbol=order["trading_symbol"], instrument_token=order["instrument_token"],
                     order_type=order["order_type"], transaction_type=order["transaction_type"],
                     quantity=order["quantity"], exchange_order_id=order["exchange_order_id"],
                     order_id=order["order_id"], exchange_timestamp=stamp, order_timestamp=stamp,
                     average_price=float(price), trade_id=f"T{order['order_id']}")
        self.trades.append(trade)

    def _working(self, orderid: str) -> dict[str, Any] | httpx.Response:
        order = self.orders.get(orderid)
        if order is None:
            return _error(400, "UDAPI100010", "Order not found")
        if order["status"] not in ("open", "trigger pending"):
            return _error(400, "UDAPI100040", "Order is already complete, cancelled or rejected")
        return order

    def _modify(self, body: dict[str, Any]) -> httpx.Response:
        order = self._working(str(body.get("order_id", "")))
        if isinstance(order, httpx.Response):
            return order
        order.update(quantity=int(body.get("quantity") or order["quantity"]), price=body.get("price", order["price"]),
                     order_type=body.get("order_type", order["order_type"]),
                     trigger_price=body.get("trigger_price", order["trigger_price"]))
        order["pending_quantity"] = order["quantity"] - order["filled_quantity"]
        self._match(order)
        return _ok({"order_id": order["order_id"]}, metadata={"latency": 30})

    def _cancel(self, orderid: str) -> httpx.Response:
        order = self._working(orderid)
        if isinstance(order, httpx.Response):
            return order
        order["status"] = "cancelled"
        return _ok({"order_id": orderid}, metadata={"latency": 30})

    def _details(self, orderid: str) -> httpx.Response:
        if orderid not in self.orders:
            return _error(400, "UDAPI100010", "Order not found")
        return _ok(self.orders[orderid])

    def _positions(self) -> list[dict[str, Any]]:
        net: dict[tuple[str, str], dict[str, Any]] = {}
        for fill in self.trades:
            row = net.get((fill["instrument_token"], fill["product"]))
            if row is None:
                row = copy.deepcopy(fixture("positions.json")["data"][0])
                row.update(exchange=fill["exchange"], product=fill["product"],
                           instrument_token=fill["instrument_token"], trading_symbol=fill["trading_symbol"],
                           tradingsymbol=fill["trading_symbol"], day_buy_quantity=0, day_buy_value=0.0,
                           day_sell_quantity=0, day_sell_value=0.0)
                net[(fill["instrument_token"], fill["product"])] = row
            side = "buy" if fill["transaction_type"] == "BUY" else "sell"
            row[f"day_{side}_quantity"] += fill["quantity"]
            row[f"day_{side}_value"] += fill["quantity"] * fill["average_price"]
        for row in net.values():
            row["quantity"] = row["day_buy_quantity"] - row["day_sell_quantity"]
            for side in ("buy", "sell"):
                quantity = row[f"day_{side}_quantity"]
                row[f"day_{side}_price"] = row[f"day_{side}_value"] / quantity if quantity else 0.0
            row["last_price"] = float(self.prices[row["instrument_token"]])
        return list(net.values())

    def _funds(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("Api-Version") != "3.0":
            return _error(400, "UDAPI100015", "API Version does not exist")
        body = fixture("funds_v3.json")
        body["data"]["available_to_trade"]["cash_available_to_trade"]["total"] = float(self.cash)
        return httpx.Response(200, json=body)

    def _quote_row(self, key: str) -> dict[str, Any]:
        instrument = self.by_key[key]
        ltp = self.prices[key]
        tick = D("0.05")
        row = copy.deepcopy(next(iter(fixture("quotes.json")["data"].values())))
        row.update(instrument_token=key, symbol=instrument["trading_symbol"], last_price=float(ltp),
                   net_change=1.5, ohlc={"open": float(ltp - 2), "high": float(ltp + 5), "low": float(ltp - 5),
                                         "close": float(ltp)},
                   depth={"buy": [{"quantity": 100 * n, "price": float(ltp - tick * n), "orders": n}
                                  for n in range(1, 6)],
                          "sell": [{"quantity": 50 * n, "price": float(ltp + tick * n), "orders": n}
                                   for n in range(1, 6)]})
        return row

    def _quotes(self, keys: str) -> httpx.Response:
        wanted = [key for key in keys.split(",") if key]
        if not wanted or len(wanted) > 500:
            return _error(400, "UDAPI100043", "Instrument key count should be between 1 and 500")
        unknown = [key for key in wanted if key not in self.by_key]
        if unknown:
            return _error(400, "UDAPI1087", "Invalid Instrument key")
        return _ok({f"{self.by_key[key]['segment']}:{self.by_key[key]['trading_symbol']}": self._quote_row(key)
                    for key in wanted})

    def _margin(self, body: dict[str, Any]) -> httpx.Response:
        legs = body.get("instruments") or []
        if not legs or len(legs) > 20:
            return _error(400, "UDAPI1158", "Instruments must be between 1 and 20")
        total = sum(self.prices[leg["instrument_key"]] * int(leg["quantity"]) for leg in legs) / 5
        sample = fixture("margin.json")["data"]
        margins = [{**sample["margins"][0], "total_margin": float(total / len(legs))} for _ in legs]
        return _ok({"margins": margins, "required_margin": float(total), "final_margin": float(total)})

    def _candles(self, rest: str) -> httpx.Response:
        parts = rest.split("/")
        intraday = parts[0] == "intraday"
        key = parts[1] if intraday else parts[0]
        if key not in self.by_key:
            return _error(400, "UDAPI1087", "Invalid Instrument key")
        ltp = float(self.prices[key])
        if intraday:
            now = datetime.now(IST).replace(hour=9, minute=15, second=0, microsecond=0)
            return _ok({"candles": [[now.isoformat(), ltp, ltp + 1, ltp - 1, ltp, 1000, 0]]})
        to_day, from_day = date.fromisoformat(parts[3]), date.fromisoformat(parts[4])
        days = [from_day + timedelta(days=n) for n in range((to_day - from_day).days + 1)]
        return _ok({"candles": [[f"{day.isoformat()}T00:00:00+05:30", ltp, ltp + 2, ltp - 2, ltp, 1000, 0]
                                for day in reversed(days)]})


_ROW_EXCHANGE = {"NSE_EQ": "NSE", "BSE_EQ": "BSE", "NSE_FO": "NFO", "BSE_FO": "BFO", "NCD_FO": "CDS",
                 "BCD_FO": "BCD", "MCX_FO": "MCX", "NSE_INDEX": "NSE", "BSE_INDEX": "BSE"}


def credentials(**change: Any) -> BrokerCredentials:
    fields: dict[str, Any] = {"broker": "upstox", "client_id": "UX1234", "api_key": API_KEY,
                              "api_secret": API_SECRET, "access_token": TOKEN}
    fields.update(change)
    return BrokerCredentials(**fields)


@contextmanager
def serving() -> Iterator[UpstoxExchange]:
    """Upstox's hosts (API, low-latency orders, instrument assets) answered by an UpstoxExchange."""
    exchange = UpstoxExchange()
    upstox_client.close()
    with respx.mock(assert_all_called=False) as router:
        for host in _hosts():
            router.route(host=host).mock(side_effect=exchange.serve)
        yield exchange
    upstox_client.close()


@pytest.fixture
def upstox_exchange() -> Iterator[UpstoxExchange]:
    with serving() as exchange:
        yield exchange


def load_contract(exchange: UpstoxExchange | None = None) -> int:
    """Upstox's master contract through the generic pipeline, as after the daily download."""
    from brokers.contracts import load_master_contract
    from brokers.upstox.adapter import UpstoxAdapter

    load = load_master_contract("upstox", UpstoxAdapter(None, credentials()).master_contract())
    lookup_cache.clear()
    if exchange is not None:
        exchange.calls.clear()
        exchange.requests.clear()
    return int(load.rows)


@pytest.fixture
def upstox_market(db, upstox_exchange) -> Iterator[UpstoxExchange]:
    load_contract(upstox_exchange)
    yield upstox_exchange
    lookup_cache.clear()


@pytest.fixture
def upstox_contract(db: Any) -> Iterator[ContractEnvironment]:
    """Self-contained (the contract suite's conftest imports only this fixture)."""
    with serving() as exchange:
        load_contract(exchange)
        yield ContractEnvironment("upstox", credentials, exchange)
    lookup_cache.clear()


# --- Benchmarks' helpers ----------------------------------------------------------------------

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _expiry_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=IST).timestamp() * 1000)


def synthetic_rows(rows: int) -> list[dict[str, Any]]:
    """About ``rows`` dump rows in Upstox's format mixing every kind (SBIN first)."""
    made: list[dict[str, Any]] = [dict(row) for row in fixture("instruments.json")]
    base_day = date(2026, 12, 3)
    counter = itertools.count(100000)
    n = 0
    while len(made) < rows:
        n += 1
        kind = n % 8
        token = str(next(counter))
        expiry = base_day + timedelta(days=7 * (n % 12))
        stamp = f"{expiry.day:02d} {_MONTHS[expiry.month - 1]} {expiry.year % 100:02d}"
        if kind == 0:
            made.append({"segment": "NSE_EQ", "name": f"COMPANY {n}", "exchange": "NSE", "isin": f"INE{n:09d}",
                         "instrument_type": "EQ", "instrument_key": f"NSE_EQ|INE{n:09d}", "lot_size": 1,
                         "freeze_quantity": 100000.0, "exchange_token": token, "tick_size": 5.0,
                         "trading_symbol": f"STOCK{n}"})
        elif kind == 1:
            made.append({"segment": "NSE_INDEX", "name": f"Index {n}", "exchange": "NSE", "instrument_type": "INDEX",
                         "instrument_key": f"NSE_INDEX|Index {n}", "exchange_token": token,
                         "trading_symbol": f"NIFTY IDX {n}", "lot_size": 0, "tick_size": 0.0})
        elif kind == 2:
            made.append({"segment": "NSE_FO", "name": f"STOCK{n}", "exchange": "NSE", "expiry": _expiry_ms(expiry),
                         "weekly": False, "instrument_key": f"NSE_FO|{token}", "exchange_token": token,
                         "trading_symbol": f"STOCK{n} FUT {stamp}", "tick_size": 5.0, "lot_size": 500,
                         "instrument_type": "FUT", "freeze_quantity": 10000.0, "underlying_symbol": f"STOCK{n}"})
        elif kind in (3, 4):
            option = "CE" if kind == 3 else "PE"
            strike = 20000 + 50 * n
            made.append({"segment": "NSE_FO", "name": "NIFTY", "exchange": "NSE", "expiry": _expiry_ms(expiry),
                         "weekly": kind == 3, "instrument_key": f"NSE_FO|{token}", "exchange_token": token,
                         "trading_symbol": f"NIFTY {strike} {option} {stamp}", "tick_size": 5.0, "lot_size": 75,
                         "instrument_type": option, "freeze_quantity": 1800.0, "underlying_symbol": "NIFTY",
                         "strike_price": float(strike)})
        elif kind == 5:
            made.append({"segment": "NCD_FO", "name": "USDINR", "exchange": "NSE", "expiry": _expiry_ms(expiry),
                         "instrument_key": f"NCD_FO|{token}", "exchange_token": token,
                         "trading_symbol": f"USDINR {50 + n}.25 CE {stamp}", "tick_size": 0.25, "lot_size": 1,
                         "instrument_type": "CE", "freeze_quantity": 10001.0, "underlying_symbol": "USDINR",
                         "strike_price": 50.25 + n})
        elif kind == 6:
            made.append({"segment": "MCX_FO", "name": "CRUDE OIL", "exchange": "MCX", "expiry": _expiry_ms(expiry),
                         "instrument_key": f"MCX_FO|{token}", "exchange_token": token,
                         "trading_symbol": f"CRUDEOIL {5000 + n} CE {stamp}", "tick_size": 100.0, "lot_size": 100,
                         "instrument_type": "CE", "freeze_quantity": 10001.0, "underlying_symbol": "CRUDEOIL",
                         "strike_price": float(5000 + n)})
        else:
            made.append({"segment": "BSE_FO", "name": "SENSEX", "exchange": "BSE", "expiry": _expiry_ms(expiry),
                         "instrument_key": f"BSE_FO|{token}", "exchange_token": token,
                         "trading_symbol": f"SENSEX {70000 + 100 * n} PE {stamp}", "tick_size": 5.0, "lot_size": 20,
                         "instrument_type": "PE", "freeze_quantity": 1000.0, "underlying_symbol": "SENSEX",
                         "strike_price": float(70000 + 100 * n)})
    return made


def synthetic_dump(router: respx.MockRouter, rows: int) -> None:
    """Route the instrument-dump URL to a gzipped dump of about ``rows`` rows."""
    body = gzip.compress(json.dumps(synthetic_rows(rows)).encode(), compresslevel=1)
    router.get(upstox_client.instruments_url()).respond(200, content=body,
                                                        headers={"Content-Type": "application/octet-stream"})


def order_world(router: respx.MockRouter) -> tuple[BrokerCredentials, OrderRequest]:
    """The place-order route answering Upstox's documented success, and an order for NSE SBIN."""
    router.post(f"{upstox_client.hft_url()}/v3/order/place").respond(200, json=fixture("place_order_v3.json"))
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=D(1),
                           product=Product.MIS, pricetype=PriceType.MARKET, tag="oa1")
    return credentials(), request

