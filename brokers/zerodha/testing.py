"""Zerodha in tests: a small stateful Kite Connect v3 served with respx (request and answer
shapes as Kite documents them; the documented sample bodies are under tests/fixtures/),
the hooks the lead's benchmarks use (``synthetic_dump``, ``order_world``) and the
``zerodha_contract`` fixture that runs the shared contract suite over Zerodha.

The fake exchange checks what a real Kite checks that matters to us: the two headers, the
login checksum, form-encoded order bodies, market protection on MARKET and SL-M orders
(2026 rules), and answers in Kite's ``{"status", "data"}`` / ``{"status": "error",
"message", "error_type"}`` shapes. The next request can be made to fail in each way a
broker fails (timeout, 5xx, malformed JSON, 429, expired token, broken connection)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import itertools
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
from django.conf import settings

from brokers.base import BrokerCredentials, OrderRequest
from brokers.contract_env import ContractEnvironment
from brokers.enums import Action, Exchange, PriceType, Product
from core.values import IST

from . import client as zerodha_client
from .client import DEFAULT_BASE_URL
from .schemas import INSTRUMENT_COLUMNS

D = Decimal
FIXTURES = Path(__file__).parent / "tests" / "fixtures"
API_KEY, API_SECRET = "kite-app-key", "kite-app-secret"
REQUEST_TOKEN, ACCESS_TOKEN = "kite-request-token-0001", "kite-access-token-0001"
USER_ID = "XX0000"
MARGIN_REJECTION = ("Insufficient funds. Required margin is {required:.2f} but available margin is {available:.2f}. "
                    "Check the orderbook for open orders.")
NO_PROTECTION = ("Market orders without market protection are not allowed via API. Please set market protection "
                 "or use a Limit order.")
UNKNOWN_ORDER = "Couldn't find that `order_id`."
FAILURES = ("timeout", "5xx", "malformed", "429", "expired", "disconnect")

# The contract world's instruments (Kite's CSV columns) and their last prices.
INSTRUMENTS: list[dict[str, str]] = [
    dict(zip(INSTRUMENT_COLUMNS, line.split(","), strict=True)) for line in (
        "779521,3045,SBIN,STATE BANK OF INDIA,0,,0,0.05,1,EQ,NSE,NSE",
        "738561,2885,RELIANCE,RELIANCE INDUSTRIES,0,,0,0.05,1,EQ,NSE,NSE",
        "256265,1001,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE",
        "9001,35,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.1,65,FUT,NFO-FUT,NFO",
        "9002,36,NIFTY26DEC26000CE,NIFTY,0,2026-12-29,26000,0.05,65,CE,NFO-OPT,NFO",
    )
]
PRICES = {"SBIN": D("800"), "RELIANCE": D("1500"), "NIFTY 50": D("26000"), "NIFTY26DECFUT": D("26100"),
          "NIFTY26DEC26000CE": D("150")}


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _ok(data: object) -> httpx.Response:
    return httpx.Response(200, json={"status": "success", "data": data})


def _error(status: int, error_type: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"status": "error", "message": message, "data": None,
                                        "error_type": error_type})


def _now_text() -> str:
    return datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S")


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def instruments_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(INSTRUMENT_COLUMNS)
    writer.writerows([row[column] for column in INSTRUMENT_COLUMNS] for row in rows)
    return out.getvalue()


class FakeKite:
    """Kite's server side, in memory."""

    def __init__(self) -> None:
        self.instruments = [dict(row) for row in INSTRUMENTS]
        self.prices = dict(PRICES)
        self.cash = D("100000")
        self.orders: dict[str, list[dict[str, Any]]] = {}  # order id -> its states, oldest first
        self.trades: list[dict[str, Any]] = []
        self.gtts: dict[int, dict[str, Any]] = {}
        self.failures: list[str] = []
        self.tokens = {ACCESS_TOKEN}
        self.calls: list[str] = []
        self.requests: list[httpx.Request] = []
        self._ids = itertools.count(251129000000001)
        self._gtt_ids = itertools.count(1001)

    # --- Test controls -----------------------------------------------------------------------

    def fail_next(self, kind: str) -> None:
        if kind not in FAILURES:
            raise ValueError(f"unknown failure {kind!r}")
        self.failures.append(kind)

    def order_now(self, orderid: str) -> dict[str, Any]:
        return self.orders[orderid][-1]

    def last(self, method: str, path: str) -> httpx.Request:
        return next(r for r in reversed(self.requests) if r.method == method and r.url.path == path)

    # --- Server ------------------------------------------------------------------------------

    def serve(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        self.requests.append(request)
        if self.failures:
            failed = self._fail(self.failures.pop(0), request)
            if failed is not None:
                return failed
        if request.headers.get("X-Kite-Version") != "3":
            return _error(400, "InputException", "Invalid API version")
        path, method = request.url.path, request.method
        if path == "/session/token" and method == "POST":
            return self._session(dict(parse_qsl(request.content.decode())))
        if not self._authorised(request):
            return _error(403, "TokenException", "Incorrect `api_key` or `access_token`.")
        form = dict(parse_qsl(request.content.decode())) if method in ("POST", "PUT") else {}
        routes = {
            ("DELETE", "/session/token"): lambda: self._logout(request),
            ("POST", "/orders/regular"): lambda: self._place(form),
            ("GET", "/orders"): lambda: _ok([states[-1] for states in self.orders.values()]),
            ("GET", "/trades"): lambda: _ok(self.trades),
            ("GET", "/portfolio/positions"): lambda: _ok({"net": self._positions(), "day": []}),
            ("GET", "/portfolio/holdings"): lambda: _ok([]),
            ("GET", "/user/margins"): lambda: _ok(self._margins()),
            ("GET", "/quote"): lambda: _ok(self._quotes(request.url.params.get_list("i"))),
            ("GET", "/instruments"): lambda: httpx.Response(200, text=instruments_csv(self.instruments),
                                                            headers={"Content-Type": "text/csv"}),
            ("POST", "/margins/basket"): lambda: self._basket(json.loads(request.content)),
            ("POST", "/gtt/triggers"): lambda: self._gtt_place(form),
            ("GET", "/gtt/triggers"): lambda: _ok(list(self.gtts.values())),
        }
        if (method, path) in routes:
            return routes[(method, path)]()
        if path.startswith("/orders/regular/"):
            return self._change(method, path.removeprefix("/orders/regular/"), form)
        if path.startswith("/orders/") and method == "GET":
            states = self.orders.get(path.removeprefix("/orders/"))
            return _ok(states) if states else _error(400, "InputException", UNKNOWN_ORDER)
        if path.startswith("/instruments/historical/"):
            return self._history(path, request.url.params)
        if path.startswith("/gtt/triggers/"):
            return self._gtt_change(method, path.removeprefix("/gtt/triggers/"), form)
        return _error(404, "GeneralException", "Route not found")

    def _fail(self, kind: str, request: httpx.Request) -> httpx.Response | None:
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "disconnect":
            raise httpx.ConnectError("connection refused", request=request)
        if kind == "5xx":
            return httpx.Response(502, text="<html>502 Bad Gateway</html>")
        if kind == "malformed":
            return httpx.Response(200, text='{"status": "success", "data": [')
        if kind == "429":
            return httpx.Response(429, headers={"Retry-After": "2"}, json=fixture_json("error_rate.json"))
        self.tokens.clear()
        return None

    def _authorised(self, request: httpx.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith(f"token {API_KEY}:") and header.removeprefix(f"token {API_KEY}:") in self.tokens

    def _session(self, form: dict[str, str]) -> httpx.Response:
        expected = hashlib.sha256(f"{API_KEY}{form.get('request_token', '')}{API_SECRET}".encode()).hexdigest()
        if form.get("api_key") != API_KEY or form.get("checksum") != expected:
            return _error(403, "TokenException", "Invalid checksum")
        if form.get("request_token") != REQUEST_TOKEN:
            return _error(403, "TokenException", "Token is invalid or has expired.")
        self.tokens.add(ACCESS_TOKEN)
        return httpx.Response(200, json=fixture_json("session_token.json"))

    def _logout(self, request: httpx.Request) -> httpx.Response:
        self.tokens.discard(request.url.params.get("access_token", ""))
        return _ok(True)

    def _instrument(self, exchange: str, tradingsymbol: str) -> dict[str, str] | None:
        return next((row for row in self.instruments
                     if row["tradingsymbol"] == tradingsymbol and row["exchange"] == exchange
                     and row["segment"] != "INDICES"), None)

    def _place(self, form: dict[str, str]) -> httpx.Response:
        instrument = self._instrument(form.get("exchange", ""), form.get("tradingsymbol", ""))
        if instrument is None:
            return _error(400, "InputException", "Invalid `tradingsymbol`.")
        if form.get("order_type") in ("MARKET", "SL-M") and form.get("market_protection", "0") in ("0", ""):
            return _error(400, "InputException", NO_PROTECTION)
        orderid = str(next(self._ids))
        quantity = int(form["quantity"])
        order = {
            "placed_by": USER_ID, "order_id": orderid, "exchange_order_id": None, "parent_order_id": None,
            "status": "OPEN", "status_message": None, "status_message_raw": None, "order_timestamp": _now_text(),
            "exchange_timestamp": None, "variety": "regular", "exchange": form["exchange"],
            "tradingsymbol": form["tradingsymbol"], "instrument_token": int(instrument["instrument_token"]),
            "order_type": form["order_type"], "transaction_type": form["transaction_type"], "validity": "DAY",
            "product": form["product"], "quantity": quantity, "disclosed_quantity": 0,
            "price": float(form.get("price") or 0), "trigger_price": float(form.get("trigger_price") or 0),
            "average_price": 0, "filled_quantity": 0, "pending_quantity": quantity, "cancelled_quantity": 0,
            "market_protection": float(form.get("market_protection") or 0), "tag": form.get("tag"), "guid": "x",
        }
        self.orders[orderid] = [dict(order, status="PUT ORDER REQ RECEIVED")]
        required = self.prices[form["tradingsymbol"]] * quantity
        if required > self.cash:
            self._move(orderid, status="REJECTED",
                       status_message=MARGIN_REJECTION.format(required=required, available=self.cash))
            return _ok({"order_id": orderid})
        self._move(orderid, status="OPEN")
        self._match(orderid)
        return _ok({"order_id": orderid})

    def _move(self, orderid: str, **change: Any) -> dict[str, Any]:
        state = {**self.order_now(orderid), **change, "exchange_update_timestamp": _now_text()}
        self.orders[orderid].append(state)
        return state

    def _match(self, orderid: str) -> None:
        order = self.order_now(orderid)
        ltp = self.prices[order["tradingsymbol"]]
        buying = order["transaction_type"] == "BUY"
        if order["order_type"] in ("SL", "SL-M"):
            self._move(orderid, status="TRIGGER PENDING")
            return
        limit = D(str(order["price"]))
        if order["order_type"] == "LIMIT" and (limit < ltp if buying else limit > ltp):
            return
        self._move(orderid, status="COMPLETE", filled_quantity=order["quantity"], pending_quantity=0,
                   average_price=_number(ltp))
        self.trades.append({
            "trade_id": str(len(self.trades) + 10000001), "order_id": orderid, "exchange": order["exchange"],
            "tradingsymbol": order["tradingsymbol"], "instrument_token": order["instrument_token"],
            "product": order["product"], "average_price": _number(ltp), "quantity": order["quantity"],
            "exchange_order_id": f"1{orderid}", "transaction_type": order["transaction_type"],
            "fill_timestamp": _now_text(), "order_timestamp": _now_text()[-8:], "exchange_timestamp": _now_text(),
        })

    def _change(self, method: str, orderid: str, form: dict[str, str]) -> httpx.Response:
        if orderid not in self.orders:
            return _error(400, "InputException", UNKNOWN_ORDER)
        order = self.order_now(orderid)
        if order["status"] not in ("OPEN", "TRIGGER PENDING"):
            verb = "modified" if method == "PUT" else "cancelled"
            return _error(400, "OrderException", f"Order cannot be {verb} as it is being processed. "
                          f"Try later. ({order['status']})")
        if method == "DELETE":
            self._move(orderid, status="CANCELLED", cancelled_quantity=order["pending_quantity"], pending_quantity=0)
        elif method == "PUT":
            if form.get("order_type") in ("MARKET", "SL-M") and form.get("market_protection", "0") in ("0", ""):
                return _error(400, "InputException", NO_PROTECTION)
            quantity = int(form.get("quantity", order["quantity"]))
            self._move(orderid, status="OPEN", quantity=quantity, pending_quantity=quantity,
                       price=float(form.get("price", order["price"])), order_type=form.get("order_type",
                                                                                          order["order_type"]),
                       trigger_price=float(form.get("trigger_price", order["trigger_price"])))
            self._match(orderid)
        else:
            return _error(405, "InputException", "Method not allowed")
        return _ok({"order_id": orderid})

    def _positions(self) -> list[dict[str, Any]]:
        net: dict[tuple[str, str, str], dict[str, Any]] = {}
        for fill in self.trades:
            key = (fill["tradingsymbol"], fill["exchange"], fill["product"])
            row = net.setdefault(key, {"tradingsymbol": key[0], "exchange": key[1], "product": key[2],
                                       "instrument_token": fill["instrument_token"], "bq": 0, "bv": D(0), "sq": 0,
                                       "sv": D(0)})
            side = "b" if fill["transaction_type"] == "BUY" else "s"
            row[f"{side}q"] += fill["quantity"]
            row[f"{side}v"] += fill["quantity"] * D(str(fill["average_price"]))
        rows = []
        for row in net.values():
            bq, bv, sq, sv = row.pop("bq"), row.pop("bv"), row.pop("sq"), row.pop("sv")
            quantity = bq - sq
            buy_price = bv / bq if bq else D(0)
            sell_price = sv / sq if sq else D(0)
            average = buy_price if quantity > 0 else sell_price if quantity < 0 else D(0)
            ltp = self.prices[row["tradingsymbol"]]
            rows.append({**row, "quantity": quantity, "overnight_quantity": 0, "multiplier": 1,
                         "average_price": _number(average), "close_price": 0, "last_price": _number(ltp),
                         "pnl": _number((sv - bv) + quantity * ltp), "buy_quantity": bq,
                         "buy_price": _number(buy_price),
                         "buy_value": _number(bv), "sell_quantity": sq, "sell_price": _number(sell_price),
                         "sell_value": _number(sv), "day_buy_quantity": bq, "day_sell_quantity": sq})
        return rows

    def _margins(self) -> dict[str, Any]:
        data: dict[str, Any] = fixture_json("margins.json")["data"]
        data["equity"]["net"] = _number(self.cash)
        return data

    def _quotes(self, keys: list[str]) -> dict[str, Any]:
        answer = {}
        for key in keys:
            exchange, _, tradingsymbol = key.partition(":")
            row = next((r for r in self.instruments
                        if r["exchange"] == exchange and r["tradingsymbol"] == tradingsymbol), None)
            if row is None:
                continue  # Kite leaves unknown instruments out of the answer
            ltp = self.prices[tradingsymbol]
            tick = D("0.05")
            answer[key] = {
                "instrument_token": int(row["instrument_token"]), "timestamp": _now_text(),
                "last_price": _number(ltp), "volume": 123456, "oi": 0, "average_price": _number(ltp),
                "ohlc": {"open": _number(ltp), "high": _number(ltp + 5), "low": _number(ltp - 5),
                         "close": _number(ltp - 1)},
                "depth": {"buy": [{"price": _number(ltp - tick * n), "quantity": 100 * n, "orders": n}
                                  for n in range(1, 6)],
                          "sell": [{"price": _number(ltp + tick * n), "quantity": 50 * n, "orders": n}
                                   for n in range(1, 6)]},
            }
        return answer

    def _history(self, path: str, params: httpx.QueryParams) -> httpx.Response:
        token, _, interval = path.removeprefix("/instruments/historical/").partition("/")
        row = next((r for r in self.instruments if r["instrument_token"] == token), None)
        if row is None or interval not in ("minute", "3minute", "5minute", "10minute", "15minute", "30minute",
                                           "60minute", "day"):
            return _error(400, "InputException", "invalid token or interval")
        ltp = float(self.prices[row["tradingsymbol"]])
        first = date.fromisoformat(params["from"][:10])
        last = date.fromisoformat(params["to"][:10])
        bars = []
        day = first
        while day <= last:
            if day.weekday() < 5:
                bars.append([f"{day.isoformat()}T09:15:00+0530", ltp, ltp + 2, ltp - 2, ltp, 1000, 0])
            day += timedelta(days=1)
        return _ok({"candles": bars})

    def _basket(self, orders: list[dict[str, Any]]) -> httpx.Response:
        total = sum((self.prices.get(order["tradingsymbol"], D(0)) * int(order["quantity"]) for order in orders),
                    D(0))
        data = fixture_json("margins_basket.json")["data"]
        data["final"]["total"] = data["initial"]["total"] = _number(total)
        return _ok(data)

    def _gtt_place(self, form: dict[str, str]) -> httpx.Response:
        trigger_id = next(self._gtt_ids)
        self.gtts[trigger_id] = self._gtt_row(trigger_id, form)
        return _ok({"trigger_id": trigger_id})

    def _gtt_row(self, trigger_id: int, form: dict[str, str]) -> dict[str, Any]:
        condition = json.loads(form["condition"])
        row = next(r for r in self.instruments if r["tradingsymbol"] == condition["tradingsymbol"])
        condition["instrument_token"] = int(row["instrument_token"])
        return {"id": trigger_id, "user_id": USER_ID, "parent_trigger": None, "type": form["type"],
                "created_at": _now_text(), "updated_at": _now_text(), "expires_at": None, "status": "active",
                "condition": condition, "orders": json.loads(form["orders"]), "meta": {}}

    def _gtt_change(self, method: str, trigger: str, form: dict[str, str]) -> httpx.Response:
        trigger_id = int(trigger) if trigger.isdigit() else -1
        if trigger_id not in self.gtts:
            return _error(404, "GeneralException", "Trigger not found.")
        if method == "DELETE":
            self.gtts.pop(trigger_id)
        elif method == "PUT":
            self.gtts[trigger_id] = self._gtt_row(trigger_id, form)
        elif method != "GET":
            return _error(405, "InputException", "Method not allowed")
        return _ok({"trigger_id": trigger_id})


def credentials(**change: Any) -> BrokerCredentials:
    fields: dict[str, Any] = {"broker": "zerodha", "client_id": USER_ID, "api_key": API_KEY,
                              "api_secret": API_SECRET, "access_token": ACCESS_TOKEN}
    fields.update(change)
    return BrokerCredentials(**fields)


def base_url() -> str:
    return str(getattr(settings, "ZERODHA_BASE_URL", "") or DEFAULT_BASE_URL)


@contextlib.contextmanager
def serving_kite(settings: Any) -> Iterator[FakeKite]:
    """Kite's API at the package's base URL, answered by a FakeKite (respx active)."""
    settings.ZERODHA_PACE_DATA = False  # tests of data calls must not wait out Kite's 1 quote/s
    kite = FakeKite()
    zerodha_client.close()
    with respx.mock(base_url=base_url(), assert_all_called=False) as router:
        router.route().mock(side_effect=kite.serve)
        yield kite
    zerodha_client.close()


def load_contract() -> None:
    """Zerodha's master contract through the generic pipeline, as after the daily download."""
    from brokers.contracts import load_master_contract
    from brokers.selectors import lookup_cache

    from .adapter import ZerodhaAdapter

    load_master_contract("zerodha", ZerodhaAdapter(None, credentials()).master_contract())
    lookup_cache.clear()


@contextlib.contextmanager
def kite_with_contract(settings: Any) -> Iterator[FakeKite]:
    """The fake Kite plus its master contract loaded (needs the database)."""
    from brokers.selectors import lookup_cache

    with serving_kite(settings) as kite:
        load_contract()
        kite.calls.clear()
        kite.requests.clear()
        yield kite
    lookup_cache.clear()


@pytest.fixture
def fake_kite(settings: Any) -> Iterator[FakeKite]:
    with serving_kite(settings) as kite:
        yield kite


@pytest.fixture
def kite_market(db: Any, settings: Any) -> Iterator[FakeKite]:
    with kite_with_contract(settings) as kite:
        yield kite


@pytest.fixture
def zerodha_contract(db: Any, settings: Any) -> Iterator[ContractEnvironment]:
    with kite_with_contract(settings) as kite:
        yield ContractEnvironment("zerodha", credentials, kite)


# --- Hooks for the benchmarks -------------------------------------------------------------------

def synthetic_rows(rows: int) -> list[dict[str, str]]:
    """About ``rows`` instrument rows in Kite's format, mixing every kind: equities (NSE SBIN
    first), indices, index and stock futures and options (monthly and weekly expiries),
    currency and commodity futures and options."""
    made: list[dict[str, str]] = [dict(row) for row in INSTRUMENTS if row["segment"] != "NFO-OPT"][:3]
    token = itertools.count(20_000_000)

    def add(tradingsymbol: str, name: str, expiry: str, strike: str, tick: str, lot: str, kind: str, segment: str,
            exchange: str) -> None:
        number = next(token)
        made.append(dict(zip(INSTRUMENT_COLUMNS, (str(number), str(number >> 8), tradingsymbol, name, "0", expiry,
                                                   strike, tick, lot, kind, segment, exchange), strict=True)))

    month = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
    start = date(2026, 12, 1)
    serial = 0
    while len(made) < rows:
        serial += 1
        kind = serial % 8
        expiry = start + timedelta(days=7 * (serial % 20))
        yy, mmm, day = f"{expiry.year % 100:02d}", month[expiry.month - 1], expiry.isoformat()
        strike = 10000 + serial  # unique per row, so every row is a distinct symbol
        if kind == 0:
            add(f"STOCK{serial}", f"STOCK {serial} LTD", "", "0", "0.05", "1", "EQ", "NSE", "NSE")
        elif kind == 1:
            add(f"NIFTY{yy}{mmm}{strike}CE", "NIFTY", day, str(strike), "0.05", "65", "CE", "NFO-OPT", "NFO")
        elif kind == 2:
            weekly = f"{expiry.month}" if expiry.month < 10 else "OND"[expiry.month - 10]
            add(f"NIFTY{yy}{weekly}{expiry.day:02d}{strike}PE", "NIFTY", day, str(strike), "0.05", "65", "PE",
                "NFO-OPT", "NFO")
        elif kind == 3:
            add(f"STK{serial}{yy}{mmm}FUT", f"STK{serial}", day, "0", "0.05", "500", "FUT", "NFO-FUT", "NFO")
        elif kind == 4:
            add(f"USDINR{yy}{mmm}{serial}.25CE", "USDINR", day, f"{serial}.25", "0.0025", "1", "CE", "CDS-OPT",
                "CDS")
        elif kind == 5:
            add(f"CRUDEOIL{yy}{mmm}{strike}PE", "CRUDEOIL", day, str(strike), "0.1", "100", "PE", "MCX-OPT", "MCX")
        elif kind == 6:
            add(f"GOLDM{serial}{yy}{mmm}FUT", f"GOLDM{serial}", day, "0", "1", "1", "FUT", "MCX-FUT", "MCX")
        else:
            add(f"SENSEX{yy}{mmm}{strike}CE", "SENSEX", day, str(strike), "0.05", "20", "CE", "BFO-OPT", "BFO")
    return made


def synthetic_dump(router: respx.MockRouter, rows: int) -> None:
    """Route Kite's instrument dump to a generated one of about ``rows`` rows."""
    text = instruments_csv(synthetic_rows(rows))
    router.get(f"{base_url()}/instruments").mock(
        return_value=httpx.Response(200, text=text, headers={"Content-Type": "text/csv"}))


def order_world(router: respx.MockRouter) -> tuple[BrokerCredentials, OrderRequest]:
    """Route the place-order endpoint to Kite's documented success answer; credentials and an
    NSE SBIN MARKET order (the instruments of ``synthetic_dump`` loaded)."""
    router.post(f"{base_url()}/orders/regular").mock(
        return_value=httpx.Response(200, json=fixture_json("order_place.json")))
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=D(1),
                           product=Product.MIS, pricetype=PriceType.MARKET, tag="oa1")
    return credentials(), request
