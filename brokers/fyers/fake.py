"""A small stateful Fyers (API v3) in memory, answering in the documented shapes
(tests/fixtures/ keeps the documented samples): the server side of brokers/fyers/testing.py."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from brokers.base import BrokerCredentials
from core.values import IST

from .instruments import SEGMENT_FILES
from .login import app_id_hash

D = Decimal
FIXTURES = Path(__file__).resolve().parent / "tests" / "fixtures"
APP_ID, APP_SECRET, AUTH_CODE = "XB12345678-100", "fy-app-secret", "fy-auth-code"
HSM_KEY = "3fd5caefeb662931c6560cf5991b55e327f33ddf8ca0b2a1b0ed7165"
MARGIN_REJECTION = ("RED:Margin Shortfall:INR {required:,.2f} Available:INR {available:,.2f} for C-XX0001 "
                    "[FYERS_RISK_CLI]")
FAILURES = ("timeout", "5xx", "malformed", "429", "expired", "disconnect")


def jwt(**claims: Any) -> str:
    """An unsigned JWT shaped like Fyers' access token (header.payload.signature)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    payload = {"iss": "api.fyers.in", "sub": "access_token", "fy_id": "XX0001", "hsm_key": HSM_KEY,
               "exp": int(datetime(2099, 1, 1, tzinfo=UTC).timestamp()), **claims}
    return f"{part({'typ': 'JWT', 'alg': 'HS256'})}.{part(payload)}.c2lnbmF0dXJl"


TOKEN = jwt()


def fixture(name: str) -> Any:
    """A documented answer kept under tests/fixtures (JSON parsed, CSV as text)."""
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def credentials(**change: Any) -> BrokerCredentials:
    fields: dict[str, Any] = {"broker": "fyers", "client_id": "XX0001", "api_key": APP_ID, "api_secret": APP_SECRET,
                              "access_token": TOKEN}
    fields.update(change)
    return BrokerCredentials(**fields)


def _ok(status: int = 200, **payload: Any) -> httpx.Response:
    return httpx.Response(status, json={"s": "ok", "code": payload.pop("code", 200), "message": "", **payload})


def _error(status: int, code: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"s": "error", "code": code, "message": message})


def _stamp(moment: datetime) -> str:
    return moment.astimezone(IST).strftime("%d-%b-%Y %H:%M:%S")


class FakeFyers:
    """Fyers' server side, in memory: orders fill at the last price (market, or a marketable
    limit) or rest (status 6), fills make trades and positions, and the next request can be
    made to fail in each way a real broker fails."""

    def __init__(self) -> None:
        self.masters = {segment: fixture(f"{segment}.csv") for segment in SEGMENT_FILES}
        self.tickers = {line.split(",")[9]: line.split(",")[0] for text in self.masters.values()
                        for line in text.splitlines() if line.count(",") >= 17}
        self.prices = {"NSE:SBIN-EQ": D("800"), "NSE:TCS-EQ": D("3500"), "NSE:NIFTY50-INDEX": D("26000")}
        self.cash = D("100000")
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.scripted: list[httpx.Response] = []
        self.tokens = {TOKEN}
        self.calls: list[str] = []
        self.requests: list[httpx.Request] = []
        self._ids = itertools.count(26112900000001)

    # --- Test controls -----------------------------------------------------------------------

    def fail_next(self, kind: str) -> None:
        if kind not in FAILURES:
            raise ValueError(f"unknown failure {kind!r}")
        self.failures.append(kind)

    def answer_next(self, response: httpx.Response) -> None:
        """The next authorised request gets ``response`` (an answer the fake would not give)."""
        self.scripted.append(response)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # --- Server --------------------------------------------------------------------------------

    def serve_master(self, request: httpx.Request) -> httpx.Response:
        segment = request.url.path.rsplit("/", 1)[-1].removesuffix(".csv")
        if segment not in self.masters:
            return httpx.Response(404, text="Not Found")
        return httpx.Response(200, text=self.masters[segment])

    def serve(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.path}")
        self.requests.append(request)
        if self.failures:
            failed = self._fail(self.failures.pop(0), request)
            if failed is not None:
                return failed
        path, method = request.url.path, request.method
        body = json.loads(request.content) if request.content else {}
        if (method, path) == ("POST", "/api/v3/validate-authcode"):
            return self._validate(body)
        if request.headers.get("Authorization", "").partition(":")[::2] not in {(APP_ID, t) for t in self.tokens}:
            return _error(401, -16, "Could not authenticate the user")
        if self.scripted:
            return self.scripted.pop(0)
        params = request.url.params
        routes = {
            ("POST", "/api/v3/orders/sync"): lambda: self._place(body),
            ("PATCH", "/api/v3/orders/sync"): lambda: self._modify(body),
            ("DELETE", "/api/v3/orders/sync"): lambda: self._cancel(body),
            ("GET", "/api/v3/orders"): lambda: _ok(orderBook=[o for o in self.orders.values()
                                                              if o["id"] == params.get("id", o["id"])]),
            ("GET", "/api/v3/tradebook"): lambda: _ok(tradeBook=self.trades),
            ("GET", "/api/v3/positions"): lambda: _ok(**self._positions()),
            ("GET", "/api/v3/holdings"): lambda: _ok(holdings=[], overall={}),
            ("GET", "/api/v3/funds"): lambda: _ok(fund_limit=[
                {"id": 3, "title": "Clear Balance", "equityAmount": float(self.cash), "commodityAmount": 0},
                {"id": 2, "title": "Utilized Amount", "equityAmount": 0, "commodityAmount": 0}]),
            ("POST", "/api/v3/multiorder/margin"): lambda: self._margin(body),
            ("GET", "/data/quotes"): lambda: self._quotes(params.get("symbols", "")),
            ("GET", "/data/depth"): lambda: self._depth(params.get("symbol", "")),
            ("GET", "/data/history"): lambda: self._history(params),
            ("POST", "/api/v3/logout"): lambda: self._logout(request),
        }
        route = routes.get((method, path))
        if route is None:
            return _error(404, -404, f"No route {method} {path}")
        return route()

    def _fail(self, kind: str, request: httpx.Request) -> httpx.Response | None:
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "disconnect":
            raise httpx.ConnectError("connection refused", request=request)
        if kind == "5xx":
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        if kind == "malformed":
            return httpx.Response(200, text='{"s": "ok", "orderBook": [')
        if kind == "429":
            return httpx.Response(429, headers={"Retry-After": "7"}, json=fixture("rate_limit_error.json"))
        self.expire_tokens()
        return None

    def _validate(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("grant_type") != "authorization_code" or body.get("appIdHash") != app_id_hash(APP_ID, APP_SECRET):
            return _error(400, -371, "Invalid app id hash")
        if body.get("code") != AUTH_CODE:
            return _error(400, -413, "Invalid auth code")
        self.tokens.add(TOKEN)
        answer = fixture("validate_authcode.json")
        answer["access_token"] = TOKEN
        return httpx.Response(200, json=answer)

    def _logout(self, request: httpx.Request) -> httpx.Response:
        self.tokens.discard(request.headers["Authorization"].partition(":")[2])
        return _ok(message="Logged out")

    def _place(self, body: dict[str, Any]) -> httpx.Response:
        ticker = str(body.get("symbol", ""))
        if ticker not in self.tickers:
            return _error(400, -50, "Please provide a valid symbol")
        ltp = self.prices.get(ticker, D("100"))
        required, qty = ltp * int(body["qty"]), int(body["qty"])
        if required > self.cash:
            return _error(400, -99, MARGIN_REJECTION.format(required=required, available=self.cash))
        orderid = str(next(self._ids))
        tag = body.get("orderTag")
        self.orders[orderid] = {
            "id": orderid, "symbol": ticker, "fyToken": self.tickers[ticker], "exchange": int(self.tickers[ticker][:2]),
            "segment": int(self.tickers[ticker][2:4]), "qty": qty, "filledQty": 0, "remainingQuantity": qty,
            "limitPrice": body.get("limitPrice", 0), "stopPrice": body.get("stopPrice", 0), "tradedPrice": 0,
            "type": body["type"], "side": body["side"], "productType": body["productType"], "status": 6,
            "message": "", "orderDateTime": _stamp(datetime.now(UTC)), "orderValidity": body.get("validity", "DAY"),
            "offlineOrder": False, "disclosedQty": body.get("disclosedQty", 0),
            "orderTag": f"1:{tag}" if tag else "",
        }
        self._match(self.orders[orderid])
        return _ok(code=1101, id=orderid,
                   message=f"Order Submitted Successfully. Your Order Ref. No.{orderid}")

    def _match(self, order: dict[str, Any]) -> None:
        ltp = self.prices.get(order["symbol"], D("100"))
        if order["type"] in (3, 4):
            return
        limit = D(str(order["limitPrice"] or 0))
        if order["type"] == 1 and (limit < ltp if order["side"] == 1 else limit > ltp):
            return
        order.update(status=2, filledQty=order["qty"], remainingQuantity=0, tradedPrice=float(ltp))
        self.trades.append({
            "orderNumber": order["id"], "symbol": order["symbol"], "fyToken": order["fyToken"],
            "exchange": order["exchange"], "segment": order["segment"], "side": order["side"],
            "productType": order["productType"], "tradedQty": order["qty"], "tradePrice": float(ltp),
            "tradeValue": float(ltp * order["qty"]), "orderDateTime": order["orderDateTime"],
            "tradeNumber": f"T{order['id']}", "orderTag": order["orderTag"],
        })

    def _working(self, body: dict[str, Any], verb: str) -> dict[str, Any] | httpx.Response:
        order = self.orders.get(str(body.get("id", "")))
        if order is None:
            return _error(400, -51, "Invalid order id")
        if order["status"] != 6:
            return _error(400, -99, f"Order cannot be {verb} as it is not pending")
        return order

    def _modify(self, body: dict[str, Any]) -> httpx.Response:
        order = self._working(body, "modified")
        if isinstance(order, httpx.Response):
            return order
        order.update({key: body[key] for key in ("qty", "limitPrice", "stopPrice", "type") if key in body})
        order["remainingQuantity"] = order["qty"]
        self._match(order)
        return _ok(code=1102, id=order["id"], message="Successfully modified order")

    def _cancel(self, body: dict[str, Any]) -> httpx.Response:
        order = self._working(body, "cancelled")
        if isinstance(order, httpx.Response):
            return order
        order["status"] = 1
        return _ok(code=1103, id=order["id"], message="Successfully cancelled order")

    def _positions(self) -> dict[str, Any]:
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for fill in self.trades:
            row = rows.setdefault((fill["symbol"], fill["productType"]), {
                "symbol": fill["symbol"], "productType": fill["productType"], "fyToken": fill["fyToken"],
                "exchange": fill["exchange"], "segment": fill["segment"], "buyQty": 0, "buyVal": 0.0, "sellQty": 0,
                "sellVal": 0.0})
            side = "buy" if fill["side"] == 1 else "sell"
            row[f"{side}Qty"] += fill["tradedQty"]
            row[f"{side}Val"] += fill["tradeValue"]
        for row in rows.values():
            row["buyAvg"] = row["buyVal"] / row["buyQty"] if row["buyQty"] else 0
            row["sellAvg"] = row["sellVal"] / row["sellQty"] if row["sellQty"] else 0
            row["netQty"] = row["buyQty"] - row["sellQty"]
            row["ltp"] = float(self.prices.get(row["symbol"], D("100")))
        return {"netPositions": list(rows.values()), "overall": {"pl_unrealized": 0.0, "pl_realized": 0.0}}

    def _margin(self, body: dict[str, Any]) -> httpx.Response:
        total = sum(self.prices.get(leg["symbol"], D("100")) * int(leg["qty"]) for leg in body.get("data", []))
        return _ok(data={"margin_avail": float(self.cash), "margin_total": float(total),
                         "margin_new_order": float(total)})

    def _quote_values(self, ticker: str) -> dict[str, Any]:
        ltp = self.prices.get(ticker, D("100"))
        return {"lp": float(ltp), "bid": float(ltp - D("0.05")), "ask": float(ltp + D("0.05")),
                "open_price": float(ltp - 2), "high_price": float(ltp + 5), "low_price": float(ltp - 5),
                "prev_close_price": float(ltp - 1), "volume": 123456, "symbol": ticker, "tt": "1764567000"}

    def _quotes(self, symbols: str) -> httpx.Response:
        rows = [{"n": ticker, "s": "ok", "v": self._quote_values(ticker)} if ticker in self.tickers
                else {"n": ticker, "s": "error", "v": {"errmsg": "invalid symbol"}} for ticker in symbols.split(",")]
        return _ok(d=rows)

    def _depth(self, ticker: str) -> httpx.Response:
        if ticker not in self.tickers:
            return _error(400, -300, "Invalid symbol provided")
        ltp, tick = self.prices.get(ticker, D("100")), D("0.05")
        values = self._quote_values(ticker)
        book = {"bids": [{"price": float(ltp - tick * n), "volume": 100 * n, "ord": n} for n in range(1, 6)],
                "ask": [{"price": float(ltp + tick * n), "volume": 50 * n, "ord": n} for n in range(1, 6)],
                "o": values["open_price"], "h": values["high_price"], "l": values["low_price"],
                "c": values["prev_close_price"], "ltp": float(ltp), "v": 123456, "oi": 0, "ltt": 1764567000}
        return _ok(d={ticker: book})

    def _history(self, params: httpx.QueryParams) -> httpx.Response:
        ticker = params.get("symbol", "")
        if ticker not in self.tickers:
            return _error(400, -300, "Invalid symbol provided")
        ltp = float(self.prices.get(ticker, D("100")))
        start = date.fromisoformat(params["range_from"])
        end = date.fromisoformat(params["range_to"])
        bars = []
        day = start
        while day <= end:
            stamp = int(datetime.combine(day, time(9, 15), IST).timestamp())
            bars.append([stamp, ltp, ltp + 2, ltp - 2, ltp, 1000, 0])
            day += timedelta(days=1)
        return _ok(candles=bars)
