"""Angel One in tests: a small stateful SmartAPI served with respx, whose request and
answer bodies follow the documented ones (kept under tests/fixtures/), and the hooks the
shared contract suite and the benchmarks use (``angel_contract``, ``synthetic_dump``,
``order_world``). Orders fill at the last price when marketable (a protected market order
is a marketable limit) or rest; stop-loss orders wait for their trigger; an order beyond
the cash is placed and then rejected with Angel's text; the next request can be made to
fail in each way SmartAPI fails (timeout, 5xx, malformed JSON, 429, the plain-text 403
rate limit, an expired token)."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from django.conf import settings

from brokers import contract_env
from brokers.base import BrokerCredentials, OrderRequest
from brokers.contract_env import ContractEnvironment
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.selectors import lookup_cache
from core.values import IST

from . import client as angel_client
from .client import DEFAULT_BASE_URL, PATHS
from .contracts import DEFAULT_URL as MASTER_URL

D = Decimal
FIXTURES = Path(__file__).parent / "tests" / "fixtures"
API_KEY, CLIENT_CODE, PIN, TOTP = "angel-app-key", "A123456", "1234", "654321"
JWT, FEED_TOKEN = "eyJhbGciOiJIUzUxMiJ9.angel-test-jwt", "eyJhbGciOiJIUzUxMiJ9.angel-test-feed"
FUNDS_REJECTION = ("Your order has been rejected due to Insufficient Funds. Available funds - Rs. {available:.2f} . "
                   "You require Rs. {required:.2f} funds to execute this order.")
FAILURES = ("timeout", "5xx", "malformed", "429", "rate403", "expired", "disconnect")
PRICES = {"3045": D("800"), "2885": D("1500"), "500112": D("800.5"), "99926000": D("24100"),
          "99926009": D("52000"), "99926037": D("23500"), "99919000": D("80000"), "35006": D("24150"),
          "66522": D("3900"), "43434": D("150"), "43102": D("35.5"), "864131": D("120"), "1163": D("0.2525"),
          "1165": D("83.5"), "439483": D("210"), "440939": D("78000")}


def ist_now() -> datetime:
    return datetime.now(IST)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def scrip_master() -> list[dict[str, str]]:
    return list(fixture("scrip_master.json"))


def _ok(data: object) -> httpx.Response:
    return httpx.Response(200, json={"status": True, "message": "SUCCESS", "errorcode": "", "data": data})


def _error(code: str, message: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"status": False, "message": message, "errorcode": code, "data": None})


def _text(value: Decimal) -> str:
    return f"{value:.2f}"


class FakeAngel:
    """SmartAPI's server side, in memory."""

    def __init__(self) -> None:
        self.instruments = scrip_master()
        self.by_token = {row["token"]: row for row in self.instruments}
        self.prices = dict(PRICES)
        self.cash = D("100000")
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.tokens = {JWT}
        self.calls: list[str] = []
        self.requests: list[httpx.Request] = []
        self.answers: dict[str, list[httpx.Response | Exception]] = {}
        self._ids = itertools.count(261129000000001)

    # --- Test controls -------------------------------------------------------------------------

    def fail_next(self, kind: str) -> None:
        if kind not in FAILURES:
            raise ValueError(f"unknown failure {kind!r}")
        self.failures.append(kind)

    def answer_next(self, path: str, answer: httpx.Response | Exception) -> None:
        """The next request to ``path`` (a PATHS key or a path) gets ``answer`` (raised if an error)."""
        self.answers.setdefault(PATHS.get(path, path), []).append(answer)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def bodies(self, path: str) -> list[dict[str, Any]]:
        """The JSON bodies sent to ``path`` (a PATHS key or a path)."""
        wanted = PATHS.get(path, path)
        return [json.loads(request.content) for request in self.requests if request.url.path == wanted]

    def fill(self, orderid: str, price: Decimal | None = None) -> None:
        order = self.orders[orderid]
        self._execute(order, price if price is not None else self.prices[order["symboltoken"]])

    # --- Server ----------------------------------------------------------------------------------

    def serve_master(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(f"{request.method} {request.url.host}{request.url.path}")
        self.requests.append(request)
        return httpx.Response(200, json=self.instruments)

    def serve(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        self.requests.append(request)
        if self.answers.get(path):
            answer = self.answers[path].pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if self.failures:
            failed = self._fail(self.failures.pop(0), request)
            if failed is not None:
                return failed
        if request.headers.get("X-PrivateKey") != API_KEY:
            return _error("AG8004", "Invalid API Key")
        if path == PATHS["login"]:
            return self._login(json.loads(request.content))
        if request.headers.get("Authorization") not in {f"Bearer {token}" for token in self.tokens}:
            return httpx.Response(200, json=fixture("error_invalid_token.json"))
        body = json.loads(request.content) if request.content else {}
        routes = {
            PATHS["logout"]: lambda: self._logout(request),
            PATHS["place"]: lambda: self._place(body),
            PATHS["modify"]: lambda: self._modify(body),
            PATHS["cancel"]: lambda: self._cancel(body),
            PATHS["orders"]: lambda: _ok(list(self.orders.values()) or None),
            PATHS["trades"]: lambda: _ok(self.trades or None),
            PATHS["positions"]: lambda: _ok(self._positions() or None),
            PATHS["holdings"]: lambda: _ok({"holdings": [], "totalholding": None}),
            PATHS["funds"]: lambda: _ok({**fixture("rms.json")["data"], "availablecash": _text(self.cash),
                                         "net": _text(self.cash)}),
            PATHS["quote"]: lambda: self._quote(body),
            PATHS["ltp"]: lambda: self._ltp(body),
            PATHS["candles"]: lambda: self._candles(body),
            PATHS["margin"]: lambda: _ok(fixture("margin_batch.json")["data"]),
        }
        if path in routes:
            return routes[path]()
        return httpx.Response(404, text="Not Found")

    def _fail(self, kind: str, request: httpx.Request) -> httpx.Response | None:
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "disconnect":
            raise httpx.ConnectError("connection refused", request=request)
        if kind == "5xx":
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        if kind == "malformed":
            return httpx.Response(200, text='{"status": true, "data": [')
        if kind == "429":
            return httpx.Response(429, headers={"Retry-After": "3"}, text="Too Many Requests")
        if kind == "rate403":
            return httpx.Response(403, text="Access denied because of exceeding access rate")
        self.expire_tokens()
        return None

    def _login(self, body: dict[str, str]) -> httpx.Response:
        if body.get("clientcode") != CLIENT_CODE or body.get("password") != PIN:
            return _error("AB1007", "Invalid clientcode or password")
        if body.get("totp") != TOTP:
            return httpx.Response(200, json=fixture("login_invalid_totp.json"))
        self.tokens.add(JWT)
        answer = fixture("login_response.json")
        answer["data"].update(jwtToken=JWT, feedToken=FEED_TOKEN)
        return httpx.Response(200, json=answer)

    def _logout(self, request: httpx.Request) -> httpx.Response:
        self.tokens.discard(request.headers["Authorization"].removeprefix("Bearer "))
        return _ok("")

    def _place(self, body: dict[str, Any]) -> httpx.Response:
        row = self.by_token.get(str(body.get("symboltoken")))
        if row is None or row["symbol"] != body.get("tradingsymbol") or row["exch_seg"] != body.get("exchange"):
            return _error("AB1009", "Symbol not found")
        if len(str(body.get("ordertag", ""))) >= 20:
            return _error("AB4008", "ordertag length should be less than 20 characters")
        if body.get("ordertype") not in ("MARKET", "LIMIT", "STOPLOSS_LIMIT", "STOPLOSS_MARKET"):
            return _error("AB1004", "Invalid ordertype")
        orderid = str(next(self._ids))
        order = {
            "variety": body["variety"], "ordertype": body["ordertype"], "producttype": body["producttype"],
            "duration": body["duration"], "price": body.get("price", "0"),
            "triggerprice": body.get("triggerprice", "0"),
            "quantity": str(body["quantity"]), "disclosedquantity": body.get("disclosedquantity", "0"),
            "tradingsymbol": row["symbol"], "transactiontype": body["transactiontype"], "exchange": row["exch_seg"],
            "symboltoken": row["token"], "ordertag": body.get("ordertag", ""), "instrumenttype": row["instrumenttype"],
            "averageprice": "0", "filledshares": "0", "unfilledshares": str(body["quantity"]), "orderid": orderid,
            "text": "", "status": "open", "orderstatus": "open",
            "updatetime": ist_now().strftime("%d-%b-%Y %H:%M:%S"), "uniqueorderid": f"u-{orderid}",
        }
        self.orders[orderid] = order
        ltp = self.prices[row["token"]]
        required = ltp * int(body["quantity"])
        if body["transactiontype"] == "BUY" and required > self.cash:
            order.update(status="rejected", orderstatus="rejected",
                         text=FUNDS_REJECTION.format(available=self.cash, required=required))
        else:
            self._match(order)
        return _ok({"script": row["symbol"], "orderid": orderid, "uniqueorderid": order["uniqueorderid"]})

    def _match(self, order: dict[str, Any]) -> None:
        ltp = self.prices[order["symboltoken"]]
        if order["ordertype"].startswith("STOPLOSS"):
            order.update(status="trigger pending", orderstatus="trigger pending")
            return
        limit = D(order["price"] or "0")
        buying = order["transactiontype"] == "BUY"
        if order["ordertype"] == "LIMIT" and (limit < ltp if buying else limit > ltp):
            return
        self._execute(order, ltp)

    def _execute(self, order: dict[str, Any], price: Decimal) -> None:
        quantity = int(order["quantity"])
        order.update(status="complete", orderstatus="complete", filledshares=str(quantity), unfilledshares="0",
                     averageprice=_text(price))
        if order["transactiontype"] == "BUY":
            self.cash -= price * quantity
        self.trades.append({
            "exchange": order["exchange"], "producttype": order["producttype"], "tradingsymbol": order["tradingsymbol"],
            "instrumenttype": order["instrumenttype"], "tradevalue": _text(price * quantity),
            "transactiontype": order["transactiontype"], "fillprice": _text(price), "fillsize": str(quantity),
            "orderid": order["orderid"], "fillid": f"F{order['orderid']}",
            "filltime": ist_now().strftime("%H:%M:%S"),
        })

    def _modify(self, body: dict[str, Any]) -> httpx.Response:
        order = self.orders.get(str(body.get("orderid")))
        if order is None:
            return _error("AB1013", "Order not found")
        if order["status"] not in ("open", "trigger pending"):
            return _error("AB1012", f"Order cannot be modified as it is {order['status']}")
        order.update(quantity=str(body["quantity"]), unfilledshares=str(body["quantity"]), price=body["price"],
                     triggerprice=body.get("triggerprice", "0"), ordertype=body["ordertype"])
        self._match(order)
        return _ok({"orderid": order["orderid"], "uniqueorderid": order["uniqueorderid"]})

    def _cancel(self, body: dict[str, Any]) -> httpx.Response:
        order = self.orders.get(str(body.get("orderid")))
        if order is None:
            return httpx.Response(200, json=fixture("cancel_not_found.json"))
        if order["status"] not in ("open", "trigger pending"):
            return _error("AB1012", f"Order cannot be cancelled as it is {order['status']}")
        order.update(status="cancelled", orderstatus="cancelled")
        return _ok({"orderid": order["orderid"], "uniqueorderid": order["uniqueorderid"]})

    def _positions(self) -> list[dict[str, Any]]:
        net: dict[tuple[str, str], dict[str, Any]] = {}
        for fill in self.trades:
            order = next(o for o in self.orders.values() if o["orderid"] == fill["orderid"])
            key = (order["symboltoken"], fill["producttype"])
            row = net.setdefault(key, {"exchange": fill["exchange"], "symboltoken": key[0], "producttype": key[1],
                                       "tradingsymbol": fill["tradingsymbol"], "buyqty": 0, "sellqty": 0,
                                       "buyamount": D(0), "sellamount": D(0)})
            side = "buy" if fill["transactiontype"] == "BUY" else "sell"
            row[f"{side}qty"] += int(fill["fillsize"])
            row[f"{side}amount"] += D(fill["fillprice"]) * int(fill["fillsize"])
        rows = []
        for row in net.values():
            bought, sold = row["buyqty"], row["sellqty"]
            rows.append({**row, "buyqty": str(bought), "sellqty": str(sold), "buyamount": _text(row["buyamount"]),
                         "sellamount": _text(row["sellamount"]),
                         "buyavgprice": _text(row["buyamount"] / bought) if bought else "0",
                         "sellavgprice": _text(row["sellamount"] / sold) if sold else "0",
                         "cfbuyqty": "0", "cfsellqty": "0", "cfbuyamount": "0.00", "cfsellamount": "0.00",
                         "cfbuyavgprice": "0.00", "cfsellavgprice": "0.00", "netqty": str(bought - sold),
                         "multiplier": "-1"})  # no ltp, as the documented answer
        return rows

    def _quote_row(self, token: str, mode: str) -> dict[str, Any]:
        row = self.by_token[token]
        ltp = self.prices[token]
        tick = D(row["tick_size"]) / 100 or D("0.05")
        answer: dict[str, Any] = {"exchange": row["exch_seg"], "tradingSymbol": row["symbol"], "symbolToken": token,
                                  "ltp": float(ltp)}
        if mode in ("OHLC", "FULL"):
            answer.update(open=float(ltp), high=float(ltp + 5), low=float(ltp - 5), close=float(ltp - 1))
        if mode == "FULL":
            answer.update(tradeVolume=123456, opnInterest=0, exchFeedTime=ist_now().strftime("%d-%b-%Y %H:%M:%S"),
                          depth={"buy": [{"price": float(ltp - tick * n), "quantity": 100 * n, "orders": n}
                                         for n in range(1, 6)],
                                 "sell": [{"price": float(ltp + tick * n), "quantity": 50 * n, "orders": n}
                                          for n in range(1, 6)]})
        return answer

    def _quote(self, body: dict[str, Any]) -> httpx.Response:
        fetched, unfetched = [], []
        for exchange, tokens in (body.get("exchangeTokens") or {}).items():
            for token in tokens:
                row = self.by_token.get(str(token))
                if row is None or row["exch_seg"] != exchange:
                    unfetched.append({"exchange": exchange, "symbolToken": token, "message": "Invalid Token",
                                      "errorCode": "AB4020"})
                else:
                    fetched.append(self._quote_row(str(token), str(body.get("mode"))))
        return _ok({"fetched": fetched, "unfetched": unfetched})

    def _ltp(self, body: dict[str, Any]) -> httpx.Response:
        row = self.by_token.get(str(body.get("symboltoken")))
        if row is None or row["symbol"] != body.get("tradingsymbol") or row["exch_seg"] != body.get("exchange"):
            return _error("AB1009", "Symbol not found")
        ltp = self.prices[row["token"]]
        return _ok({"exchange": row["exch_seg"], "tradingsymbol": row["symbol"], "symboltoken": row["token"],
                    "open": _text(ltp), "high": _text(ltp + 5), "low": _text(ltp - 5), "close": _text(ltp - 1),
                    "ltp": _text(ltp)})

    def _candles(self, body: dict[str, Any]) -> httpx.Response:
        token = str(body.get("symboltoken"))
        if token not in self.by_token:
            return _error("AB1009", "Symbol not found")
        ltp = float(self.prices[token])
        first = datetime.strptime(body["fromdate"], "%Y-%m-%d %H:%M").date()
        last = datetime.strptime(body["todate"], "%Y-%m-%d %H:%M").date()
        bars = []
        day = first
        while day <= last:
            if day.weekday() < 5:
                bars.append([f"{day.isoformat()}T00:00:00+05:30", ltp, ltp + 2, ltp - 2, ltp, 1000])
            day += timedelta(days=1)
        return _ok(bars)


def credentials(**change: Any) -> BrokerCredentials:
    fields: dict[str, Any] = {"broker": "angel", "client_id": CLIENT_CODE, "api_key": API_KEY, "access_token": JWT,
                              "feed_token": FEED_TOKEN}
    fields.update(change)
    return BrokerCredentials(**fields)


def serve(router: respx.MockRouter, exchange: FakeAngel) -> None:
    router.get(MASTER_URL).mock(side_effect=exchange.serve_master)
    router.route(host=httpx.URL(settings_base_url()).host).mock(side_effect=exchange.serve)


def settings_base_url() -> str:
    return str(getattr(settings, "ANGEL_BASE_URL", "") or DEFAULT_BASE_URL)


def load_instruments(rows: Iterator[Any]) -> int:
    """Put Angel's master contract in the table (tests of the adapter alone)."""
    return contract_env.load_instruments("angel", rows)


@contextmanager
def running_exchange() -> Iterator[FakeAngel]:
    """SmartAPI at ANGEL_BASE_URL (and the scrip master's URL), answered by a FakeAngel."""
    exchange = FakeAngel()
    angel_client.close()
    with respx.mock(assert_all_called=False) as router:
        serve(router, exchange)
        yield exchange
    angel_client.close()


@contextmanager
def loaded_market() -> Iterator[FakeAngel]:
    """The exchange plus its master contract loaded, as after the daily download (needs the db)."""
    from .adapter import AngelAdapter

    with running_exchange() as exchange:
        load_instruments(iter(AngelAdapter(None, credentials()).master_contract()))
        exchange.calls.clear()
        exchange.requests.clear()
        try:
            yield exchange
        finally:
            lookup_cache.clear()


@pytest.fixture
def angel_exchange() -> Iterator[FakeAngel]:
    with running_exchange() as exchange:
        yield exchange


@pytest.fixture
def angel_market(db: None) -> Iterator[FakeAngel]:
    with loaded_market() as exchange:
        yield exchange


@pytest.fixture
def angel_contract(db: None) -> Iterator[ContractEnvironment]:
    """Self-contained (the shared suite imports this fixture alone)."""
    with loaded_market() as exchange:
        yield ContractEnvironment("angel", credentials, exchange)


# --- Benchmarks' hooks -------------------------------------------------------------------------

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _expiry(day: date) -> str:
    return f"{day.day:02d}{_MONTHS[day.month - 1]}{day.year}"


def synthetic_rows(rows: int, seed: int = 7) -> list[dict[str, str]]:
    """About ``rows`` scrip-master rows in Angel's format, every kind mixed in, NSE SBIN first;
    every row a distinct instrument (each kind walks its own expiries and strikes)."""
    chooser = random.Random(seed)  # noqa: S311  (a repeatable test dump, not a secret)
    dump = scrip_master()[:16]
    token = itertools.count(1_000_000)
    serial = itertools.count(1)
    base = date(2026, 12, 3)
    names = ["NIFTY", "BANKNIFTY", "RELIANCE", "TCS", "INFY", "SBIN", "HDFCBANK", "ITC"]
    while len(dump) < rows:
        kind = chooser.randrange(8)
        n = next(serial)
        expiry = base + timedelta(days=7 * (n % 52))
        name = names[n % len(names)]
        day = _expiry(expiry)
        short = f"{day[:5]}{expiry.year % 100}"
        if kind == 0:
            ticker = f"STOCK{n}"
            dump.append({"token": str(next(token)), "symbol": f"{ticker}-EQ", "name": ticker, "expiry": "",
                         "strike": "-1.000000", "lotsize": "1", "instrumenttype": "", "exch_seg": "NSE",
                         "tick_size": "5.000000"})
        elif kind == 1:
            stock = f"FUTST{n}"
            dump.append({"token": str(next(token)), "symbol": f"{stock}{short}FUT", "name": stock, "expiry": day,
                         "strike": "-1.000000", "lotsize": "25", "instrumenttype": "FUTSTK", "exch_seg": "NFO",
                         "tick_size": "10.000000"})
        elif kind in (2, 3, 4):
            strike = 50 * n
            side = "CE" if n % 2 else "PE"
            dump.append({"token": str(next(token)), "symbol": f"{name}{short}{strike}{side}", "name": name,
                         "expiry": day, "strike": f"{strike * 100}.000000", "lotsize": "25",
                         "instrumenttype": "OPTIDX" if "NIFTY" in name else "OPTSTK", "exch_seg": "NFO",
                         "tick_size": "5.000000"})
        elif kind == 5:
            strike = 800_000_000 + 2_500_000 * n
            dump.append({"token": str(next(token)), "symbol": f"USDINR{n}CE", "name": "USDINR", "expiry": day,
                         "strike": f"{strike}.000000", "lotsize": "1000", "instrumenttype": "OPTCUR",
                         "exch_seg": "CDS", "tick_size": "0.250000"})
        elif kind == 6:
            strike = 100 * (1000 + n)
            dump.append({"token": str(next(token)), "symbol": f"CRUDEOIL{n}CE", "name": "CRUDEOIL", "expiry": day,
                         "strike": f"{strike}.000000", "lotsize": "100", "instrumenttype": "OPTFUT",
                         "exch_seg": "MCX", "tick_size": "10.000000"})
        else:
            commodity = f"METAL{n}"
            dump.append({"token": str(next(token)), "symbol": f"{commodity}{short}FUT", "name": commodity,
                         "expiry": day, "strike": "-1.000000", "lotsize": "100", "instrumenttype": "FUTCOM",
                         "exch_seg": "MCX", "tick_size": "100.000000"})
    return dump


def synthetic_dump(router: respx.MockRouter, rows: int) -> None:
    """Route the scrip master's URL to a generated dump of about ``rows`` rows."""
    body = json.dumps(synthetic_rows(rows)).encode()
    router.get(MASTER_URL).mock(return_value=httpx.Response(200, content=body,
                                                             headers={"Content-Type": "application/json"}))


def order_world(router: respx.MockRouter) -> tuple[BrokerCredentials, OrderRequest]:
    """Place-order answered as documented (and the getLtpData a protected market order needs
    first); credentials and an NSE SBIN MARKET order (the instruments of synthetic_dump loaded)."""
    base = settings_base_url()
    router.post(f"{base}{PATHS['place']}").mock(return_value=httpx.Response(200, json=fixture(
        "place_order_response.json")))
    router.post(f"{base}{PATHS['ltp']}").mock(return_value=_ok(
        {"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "open": "795.00", "high": "805.00",
         "low": "790.00", "close": "798.00", "ltp": "800.00"}))
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=D(1),
                           product=Product.MIS, pricetype=PriceType.MARKET, strategy="bench", tag="oa1")
    return credentials(), request


__all__ = ["API_KEY", "CLIENT_CODE", "FEED_TOKEN", "JWT", "PIN", "TOTP", "ContractEnvironment", "FakeAngel",
           "angel_contract", "angel_exchange", "angel_market", "credentials", "fixture", "order_world",
           "synthetic_dump", "synthetic_rows"]
