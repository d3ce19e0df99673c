"""A small stateful FakeLive exchange served with respx, for FakeLive's own tests and the
shared contract suite: orders fill at the last price (market, or a marketable limit) or
rest, trades make positions, and the next request can be made to fail in each way a
real broker fails (timeout, 5xx, malformed JSON, 429, expired token)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from django.conf import settings

from brokers import contract_env
from brokers.base import BrokerCredentials
from brokers.contract_env import ContractEnvironment
from brokers.fakelive import client as fakelive_client
from brokers.selectors import lookup_cache

D = Decimal
API_KEY, API_SECRET, CODE, TOKEN = "fl-app-key", "fl-app-secret", "fl-one-time-code", "fl-access-token"
MARGIN_REJECTION = "RMS:Margin Exceeds, Required:{required:.2f}, Available:{available:.2f} for entity account-FL01"

INSTRUMENTS: list[dict[str, Any]] = [
    {"instrument_token": "3045", "tradingsymbol": "SBIN-EQ", "name": "STATE BANK OF INDIA", "exchange": "NSE",
     "expiry": "", "strike": "0", "lot_size": 1, "tick_size": "0.05", "instrument_type": "EQ"},
    {"instrument_token": "2885", "tradingsymbol": "RELIANCE-EQ", "name": "RELIANCE INDUSTRIES", "exchange": "NSE",
     "expiry": "", "strike": "0", "lot_size": 1, "tick_size": "0.05", "instrument_type": "EQ"},
    {"instrument_token": "256265", "tradingsymbol": "NIFTY 50", "name": "NIFTY", "exchange": "NSEIDX",
     "expiry": "", "strike": "0", "lot_size": 1, "tick_size": "0.05", "instrument_type": "IDX"},
    {"instrument_token": "9001", "tradingsymbol": "NIFTY26DECFUT", "name": "NIFTY", "exchange": "NFO",
     "expiry": "2026-12-29", "strike": "0", "lot_size": 65, "tick_size": "0.10", "instrument_type": "FUT",
     "freeze_quantity": 1800},
    {"instrument_token": "9002", "tradingsymbol": "NIFTY26DEC26000CE", "name": "NIFTY", "exchange": "NFO",
     "expiry": "2026-12-29", "strike": "26000", "lot_size": 65, "tick_size": "0.05", "instrument_type": "CE",
     "freeze_quantity": 1800},
]
PRICES = {"SBIN-EQ": D("800"), "RELIANCE-EQ": D("1500"), "NIFTY 50": D("26000"), "NIFTY26DECFUT": D("26100"),
          "NIFTY26DEC26000CE": D("150")}

FAILURES = ("timeout", "5xx", "malformed", "429", "expired", "disconnect")


def _ok(data: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"status": "success", "data": data})


def _error(status: int, error_type: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"status": "error", "error_type": error_type, "message": message})


class FakeExchange:
    """FakeLive's server side, in memory."""

    def __init__(self) -> None:
        self.instruments = [dict(row) for row in INSTRUMENTS]
        self.prices = dict(PRICES)
        self.cash = D("100000")
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.tokens = {TOKEN}
        self.calls: list[str] = []
        self._ids = itertools.count(250100000000001)

    # --- Test controls -----------------------------------------------------------------------

    def fail_next(self, kind: str) -> None:
        if kind not in FAILURES:
            raise ValueError(f"unknown failure {kind!r}")
        self.failures.append(kind)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def fill(self, orderid: str, quantity: int | None = None, price: Decimal | None = None) -> None:
        """The exchange fills a resting order on its own (all of it, or ``quantity`` more)."""
        order = self.orders[orderid]
        filled = order["quantity"] if quantity is None else order["filled_quantity"] + quantity
        average = price if price is not None else self.prices[order["tradingsymbol"]]
        order.update(filled_quantity=filled, average_price=str(average),
                     status="COMPLETE" if filled >= order["quantity"] else order["status"])

    def cancel(self, orderid: str) -> None:
        """The exchange cancels a resting order on its own (end of day, circuit limits)."""
        self.orders[orderid]["status"] = "CANCELLED"

    def postback(self, orderid: str, secret: str = API_SECRET, user_id: str = "FL01") -> tuple[bytes, dict[str, str]]:
        """The postback FakeLive would send for ``orderid`` now: body and signed headers."""
        body = json.dumps({**self.orders[orderid], "user_id": user_id}).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return body, {"X-FakeLive-Signature": signature}

    # --- Server --------------------------------------------------------------------------------

    def serve(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        if self.failures:
            failed = self._fail(self.failures.pop(0), request)
            if failed is not None:
                return failed
        path, method = request.url.path, request.method
        if path == "/session/token" and method == "POST":
            return self._session(json.loads(request.content))
        if not self._authorised(request):
            return _error(403, "TokenException", "Incorrect `api_key` or `access_token`.")
        if path == "/session/token" and method == "DELETE":
            self.tokens.discard(request.headers["Authorization"].rsplit(":", 1)[-1])
            return _ok(True)
        routes = {
            ("POST", "/orders"): lambda: self._place(json.loads(request.content)),
            ("GET", "/orders"): lambda: _ok(list(self.orders.values())),
            ("GET", "/trades"): lambda: _ok(self.trades),
            ("GET", "/portfolio/positions"): lambda: _ok(self._positions()),
            ("GET", "/portfolio/holdings"): lambda: _ok([]),
            ("GET", "/user/margins"): lambda: _ok({"available_cash": str(self.cash), "collateral": "0",
                                                   "realised_m2m": "0", "unrealised_m2m": "0", "utilised": "0"}),
            ("GET", "/quote"): lambda: self._quote(request.url.params.get("tradingsymbol", "")),
            ("GET", "/history"): lambda: self._history(request.url.params),
            ("GET", "/instruments"): lambda: _ok(self.instruments),
        }
        if (method, path) in routes:
            return routes[(method, path)]()
        if path.startswith("/orders/"):
            return self._one_order(method, path.removeprefix("/orders/"), request)
        return _error(404, "GeneralException", f"No route {method} {path}")

    def _fail(self, kind: str, request: httpx.Request) -> httpx.Response | None:
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "disconnect":
            raise httpx.ConnectError("connection refused", request=request)
        if kind == "5xx":
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        if kind == "malformed":
            return httpx.Response(200, text='{"status": "success", "data": [')
        if kind == "429":
            return httpx.Response(429, headers={"Retry-After": "7"}, json={"status": "error", "message": "Too many"})
        self.expire_tokens()
        return None

    def _authorised(self, request: httpx.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith(f"token {API_KEY}:") and header.rsplit(":", 1)[-1] in self.tokens

    def _session(self, body: dict[str, str]) -> httpx.Response:
        if (body.get("api_key"), body.get("api_secret")) != (API_KEY, API_SECRET):
            return _error(400, "InputException", "Invalid `api_key` or `api_secret`.")
        if body.get("code") != CODE:
            return _error(400, "InputException", "Invalid or expired request code.")
        self.tokens.add(TOKEN)
        return _ok({"access_token": TOKEN, "feed_token": "fl-feed-token", "user_id": "FL01"})

    def _instrument(self, tradingsymbol: str) -> dict[str, Any] | None:
        return next((row for row in self.instruments if row["tradingsymbol"] == tradingsymbol), None)

    def _place(self, body: dict[str, Any]) -> httpx.Response:
        instrument = self._instrument(body.get("tradingsymbol", ""))
        if instrument is None:
            return _error(400, "InputException", f"Invalid tradingsymbol {body.get('tradingsymbol')!r}.")
        ltp = self.prices[instrument["tradingsymbol"]]
        required = ltp * int(body["quantity"])
        if required > self.cash:
            return _error(400, "OrderException", MARGIN_REJECTION.format(required=required, available=self.cash))
        orderid = str(next(self._ids))
        self.orders[orderid] = {
            "order_id": orderid, "tradingsymbol": instrument["tradingsymbol"], "exchange": instrument["exchange"],
            "instrument_token": instrument["instrument_token"], "transaction_type": body["transaction_type"],
            "quantity": int(body["quantity"]), "filled_quantity": 0, "price": body.get("price", "0"),
            "trigger_price": body.get("trigger_price", "0"), "average_price": "0", "order_type": body["order_type"],
            "product": body["product"], "status": "OPEN", "status_message": "",
            "order_timestamp": datetime.now(UTC).isoformat(), "tag": body.get("tag", ""),
        }
        self._match(self.orders[orderid])
        return _ok({"order_id": orderid})

    def _match(self, order: dict[str, Any]) -> None:
        ltp = self.prices[order["tradingsymbol"]]
        limit = D(order["price"] or "0")
        buying = order["transaction_type"] == "B"
        if order["order_type"] in ("SL", "SLM"):
            order["status"] = "TRIGGER_PENDING"
            return
        if order["order_type"] == "LMT" and (limit < ltp if buying else limit > ltp):
            return
        order.update(status="COMPLETE", filled_quantity=order["quantity"], average_price=str(ltp))
        self.trades.append({
            "trade_id": f"T{order['order_id']}", "order_id": order["order_id"],
            "tradingsymbol": order["tradingsymbol"], "exchange": order["exchange"],
            "instrument_token": order["instrument_token"], "transaction_type": order["transaction_type"],
            "product": order["product"], "quantity": order["quantity"], "average_price": str(ltp),
            "fill_timestamp": datetime.now(UTC).isoformat(),
        })

    def _one_order(self, method: str, orderid: str, request: httpx.Request) -> httpx.Response:
        order = self.orders.get(orderid)
        if order is None:
            return _error(404, "OrderNotFound", f"Order {orderid} not found")
        if method == "GET":
            return _ok(order)
        if order["status"] not in ("OPEN", "TRIGGER_PENDING"):
            verb = "modified" if method == "PUT" else "cancelled"
            return _error(400, "OrderException", f"Order cannot be {verb} as it is {order['status']}.")
        if method == "DELETE":
            order["status"] = "CANCELLED"
        else:
            change = json.loads(request.content)
            order.update({key: change[key] for key in ("quantity", "price", "trigger_price", "order_type")
                          if key in change})
            self._match(order)
        return _ok({"order_id": orderid})

    def _positions(self) -> list[dict[str, Any]]:
        net: dict[tuple[str, str, str], dict[str, Any]] = {}
        for fill in self.trades:
            key = (fill["tradingsymbol"], fill["exchange"], fill["product"])
            row = net.setdefault(key, {"tradingsymbol": key[0], "exchange": key[1], "product": key[2],
                                       "instrument_token": fill["instrument_token"], "quantity": 0, "value": D(0)})
            sign = 1 if fill["transaction_type"] == "B" else -1
            row["quantity"] += sign * fill["quantity"]
            row["value"] += sign * fill["quantity"] * D(fill["average_price"])
        rows = []
        for row in net.values():
            value = row.pop("value")
            average = value / row["quantity"] if row["quantity"] else D(0)
            ltp = self.prices[row["tradingsymbol"]]
            rows.append({**row, "average_price": str(average), "last_price": str(ltp),
                         "pnl": str((ltp - average) * row["quantity"]), "realised": "0",
                         "unrealised": str((ltp - average) * row["quantity"])})
        return rows

    def _quote(self, tradingsymbol: str) -> httpx.Response:
        if tradingsymbol not in self.prices:
            return _error(400, "InputException", f"Invalid tradingsymbol {tradingsymbol!r}.")
        ltp = self.prices[tradingsymbol]
        tick = D("0.05")
        depth = {"buy": [{"price": str(ltp - tick * n), "quantity": 100 * n, "orders": n} for n in range(1, 6)],
                 "sell": [{"price": str(ltp + tick * n), "quantity": 50 * n, "orders": n} for n in range(1, 6)]}
        return _ok({"last_price": str(ltp), "volume": 123456, "oi": 0, "depth": depth,
                    "ohlc": {"open": str(ltp), "high": str(ltp + 5), "low": str(ltp - 5), "close": str(ltp - 1)},
                    "timestamp": datetime.now(UTC).isoformat()})

    def _history(self, params: httpx.QueryParams) -> httpx.Response:
        token = params.get("token", "")
        row = next((r for r in self.instruments if r["instrument_token"] == token), None)
        if row is None:
            return _error(400, "InputException", "Invalid token")
        ltp = self.prices[row["tradingsymbol"]]
        day = date.fromisoformat(params["start"])
        bar = [f"{day.isoformat()}T09:15:00+05:30", str(ltp), str(ltp + 2), str(ltp - 2), str(ltp), 1000, 0]
        return _ok({"candles": [bar]})


def credentials(**change: Any) -> BrokerCredentials:
    fields = {"broker": "fakelive", "client_id": "FL01", "api_key": API_KEY, "api_secret": API_SECRET,
              "access_token": TOKEN}
    fields.update(change)
    return BrokerCredentials(**fields)


def load_instruments(rows: Iterator[Any]) -> int:
    """Put FakeLive's master contract in the table (tests of the adapter alone)."""
    return contract_env.load_instruments("fakelive", rows)


@pytest.fixture
def fake_exchange() -> Iterator[FakeExchange]:
    """FakeLive's API at FAKELIVE_BASE_URL, answered by a FakeExchange (respx active)."""
    exchange = FakeExchange()
    fakelive_client.close()
    with respx.mock(base_url=settings.FAKELIVE_BASE_URL, assert_all_called=False) as router:
        router.route().mock(side_effect=exchange.serve)
        yield exchange
    fakelive_client.close()


@pytest.fixture
def fakelive_market(db, fake_exchange) -> Iterator[FakeExchange]:
    """The exchange plus its master contract loaded, as after the daily download."""
    from brokers.fakelive.adapter import FakeLiveAdapter

    load_instruments(iter(FakeLiveAdapter(None, credentials()).master_contract()))
    fake_exchange.calls.clear()
    yield fake_exchange
    lookup_cache.clear()


@pytest.fixture
def fakelive_contract(fakelive_market) -> ContractEnvironment:
    return ContractEnvironment("fakelive", credentials, fakelive_market)


# --- Benchmarks' hooks (bench/brokers.py): every broker package's testing.py has these two ---


def synthetic_dump(router: respx.MockRouter, rows: int) -> None:
    """Route FakeLive's instrument list to about ``rows`` generated rows of every kind
    (equity, index, future, options), NSE SBIN among them."""
    made: list[dict[str, Any]] = [dict(row) for row in INSTRUMENTS]
    n = 0
    while len(made) < rows:
        n += 1
        strike = 20000 + 50 * (n % 400)
        kind = ("CE", "PE", "FUT", "EQ")[n % 4]
        symbol = {"EQ": f"STOCK{n}-EQ", "FUT": f"STK{n}26DECFUT"}.get(kind, f"NIFTY26DEC{strike}{kind}{n}")
        made.append({"instrument_token": str(100000 + n), "tradingsymbol": symbol, "name": f"STK{n}",
                     "exchange": "NSE" if kind == "EQ" else "NFO", "expiry": "" if kind == "EQ" else "2026-12-29",
                     "strike": str(strike) if kind in ("CE", "PE") else "0", "lot_size": 1 if kind == "EQ" else 65,
                     "tick_size": "0.05", "instrument_type": kind})
    body = json.dumps({"status": "success", "data": made}).encode()
    router.get("/instruments").mock(return_value=httpx.Response(200, content=body,
                                                                 headers={"Content-Type": "application/json"}))


def order_world(router: respx.MockRouter) -> tuple[BrokerCredentials, Any]:
    """Route the place-order endpoint to FakeLive's success answer; an NSE SBIN MARKET order."""
    from brokers.base import OrderRequest
    from brokers.enums import Action, Exchange

    router.post("/orders").mock(return_value=_ok({"order_id": "250100000000001"}))
    return credentials(), OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=D(1))
