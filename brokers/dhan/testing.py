"""Dhan in tests: a small stateful DhanHQ v2 exchange served with respx (request and
answer bodies shaped as Dhan documents them; documented samples are kept under
brokers/dhan/tests/fixtures/), the scrip master CSV, and the hooks the shared contract
suite and the lead's benchmarks use (``dhan_contract``, ``synthetic_dump``, ``order_world``).

Orders fill at the last price (market, or a marketable limit) or rest; trades make
positions; the next request can be made to fail the ways a real broker fails."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from brokers import contract_env
from brokers.base import BrokerCredentials, OrderRequest
from brokers.contract_env import ContractEnvironment
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.selectors import lookup_cache

from . import client as dhan_client
from .client import DEFAULT_BASE_URL, SCRIP_MASTER_URL

D = Decimal
FIXTURES = Path(__file__).parent / "tests" / "fixtures"
CLIENT_ID, TOKEN = "1000000001", "dhan-test-access-token"
COLUMNS = ("SEM_EXM_EXCH_ID", "SEM_SEGMENT", "SEM_SMST_SECURITY_ID", "SEM_INSTRUMENT_NAME", "SEM_EXPIRY_CODE",
           "SEM_TRADING_SYMBOL", "SEM_LOT_UNITS", "SEM_CUSTOM_SYMBOL", "SEM_EXPIRY_DATE", "SEM_STRIKE_PRICE",
           "SEM_OPTION_TYPE", "SEM_TICK_SIZE", "SEM_EXPIRY_FLAG", "SEM_EXCH_INSTRUMENT_TYPE", "SEM_SERIES",
           "SM_SYMBOL_NAME")
MARGIN_REJECTION = ("RMS:Margin Exceeds,Required:{required:.2f}, Available:{available:.2f} for entity account-"
                    + CLIENT_ID)
FAILURES = ("timeout", "5xx", "malformed", "429", "expired", "disconnect")


def fixture(name: str) -> Any:
    """A documented Dhan payload kept as a file."""
    return json.loads((FIXTURES / name).read_text())


def sample_scrip_master() -> str:
    return (FIXTURES / "scrip_master_sample.csv").read_text()


def _scrip(exchange: str, segment: str, security_id: str, kind: str, trading_symbol: str, *, lot: str = "1.0",
           custom: str = "", expiry: str = "", strike: str = "-0.01000", option: str = "XX", tick: str = "5.0000",
           flag: str = "NA", name: str = "") -> dict[str, str]:
    return dict(zip(COLUMNS, (exchange, segment, security_id, kind, "0" if expiry else "", trading_symbol, lot,
                              custom, expiry, strike, option, tick, flag, kind, "EQ" if kind == "EQUITY" else "NA",
                              name), strict=True))


# The fake's instruments: a slice of the scrip master (security ids as Dhan's where known).
SCRIPS = [
    _scrip("NSE", "E", "3045", "EQUITY", "SBIN", name="STATE BANK OF INDIA"),
    _scrip("NSE", "E", "2885", "EQUITY", "RELIANCE", name="RELIANCE INDUSTRIES LTD"),
    _scrip("NSE", "I", "13", "INDEX", "NIFTY", tick="0.0000", name="NIFTY"),
    _scrip("NSE", "D", "35006", "FUTIDX", "NIFTY-Dec2026-FUT", lot="65.0", custom="NIFTY DEC FUT",
           expiry="2026-12-29 14:30:00", tick="10.0000", flag="M"),
    _scrip("NSE", "D", "43854", "OPTIDX", "NIFTY-Dec2026-26000-CE", lot="65.0", custom="NIFTY 29 DEC 26000 CALL",
           expiry="2026-12-29 14:30:00", strike="26000.00000", option="CE", flag="M"),
]
PRICES = {"3045": D("800"), "2885": D("1500"), "13": D("26000"), "35006": D("26100"), "43854": D("150")}


def _csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _error(status: int, code: str, message: str, kind: str = "Order_Error") -> httpx.Response:
    return httpx.Response(status, json={"errorType": kind, "errorCode": code, "errorMessage": message})


def _now_ist() -> str:
    return (datetime.now(UTC) + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M:%S")


class FakeDhan:
    """DhanHQ v2's server side, in memory."""

    def __init__(self) -> None:
        self.scrips = [dict(row) for row in SCRIPS]
        self.prices = dict(PRICES)
        self.cash = D("100000")
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: list[dict[str, Any]] = []
        self.forever: dict[str, list[dict[str, Any]]] = {}
        self.holdings: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.tokens = {TOKEN}
        self.calls: list[str] = []
        self.bodies: list[tuple[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.canned: dict[str, httpx.Response] = {}
        self._ids = itertools.count(112111182198)

    # --- Test controls -----------------------------------------------------------------------

    def fail_next(self, kind: str) -> None:
        if kind not in FAILURES:
            raise ValueError(f"unknown failure {kind!r}")
        self.failures.append(kind)

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def answer(self, route: str, status: int = 200, body: Any = None) -> None:
        """Answer ``route`` ("POST /orders") with ``body`` from now on, whatever the state."""
        self.canned[route] = httpx.Response(status, json=body)

    def fill(self, orderid: str) -> None:
        self._execute(self.orders[orderid])

    # --- Server --------------------------------------------------------------------------------

    def serve(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v2")
        self.calls.append(f"{request.method} {path}")
        self.requests.append(request)
        body = json.loads(request.content) if request.content else None
        self.bodies.append((f"{request.method} {path}", body))
        canned = self.canned.get(f"{request.method} {path}")
        if canned is not None:
            return httpx.Response(canned.status_code, content=canned.content, headers=canned.headers)
        if self.failures:
            failed = self._fail(self.failures.pop(0), request)
            if failed is not None:
                return failed
        if request.headers.get("access-token") not in self.tokens or request.headers.get("client-id") != CLIENT_ID:
            return httpx.Response(401, json=fixture("error_invalid_auth.json"))
        method = request.method
        routes = {
            ("GET", "/profile"): lambda: httpx.Response(200, json={**fixture("profile.json"),
                                                                   "dhanClientId": CLIENT_ID}),
            ("POST", "/orders"): lambda: self._place(body),
            ("GET", "/orders"): lambda: httpx.Response(200, json=list(self.orders.values())),
            ("GET", "/trades"): lambda: httpx.Response(200, json=self.trades),
            ("GET", "/positions"): lambda: httpx.Response(200, json=self._positions()),
            ("GET", "/holdings"): lambda: (httpx.Response(200, json=self.holdings) if self.holdings else
                                           _error(400, "DH-1111", "No holdings available", "Holding_Error")),
            ("GET", "/fundlimit"): lambda: httpx.Response(200, json={**fixture("fundlimit.json"),
                                                                     "availabelBalance": float(self.cash)}),
            ("POST", "/marketfeed/ltp"): lambda: self._quotes(body, full=False),
            ("POST", "/marketfeed/quote"): lambda: self._quotes(body, full=True),
            ("POST", "/charts/historical"): lambda: self._bars(body, daily=True),
            ("POST", "/charts/intraday"): lambda: self._bars(body, daily=False),
            ("POST", "/margincalculator"): lambda: httpx.Response(200, json=fixture("margincalculator.json")),
            ("POST", "/forever/orders"): lambda: self._forever_place(body),
            ("GET", "/forever/orders"): lambda: httpx.Response(
                200, json=[leg for legs in self.forever.values() for leg in legs]),
        }
        if (method, path) in routes:
            return routes[(method, path)]()
        if path.startswith("/orders/"):
            return self._one_order(method, path.removeprefix("/orders/"), body)
        if path.startswith("/forever/orders/"):
            return self._forever_one(method, path.removeprefix("/forever/orders/"), body)
        return _error(404, "DH-905", f"No route {method} {path}", "Input_Exception")

    def _fail(self, kind: str, request: httpx.Request) -> httpx.Response | None:
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "disconnect":
            raise httpx.ConnectError("connection refused", request=request)
        if kind == "5xx":
            return httpx.Response(502, text="<html>Bad Gateway</html>")
        if kind == "malformed":
            return httpx.Response(200, text='{"orderId": "1121')
        if kind == "429":
            return httpx.Response(429, headers={"Retry-After": "3"}, json={"errorCode": "DH-904",
                                                                           "errorMessage": "Too many requests"})
        self.expire_tokens()
        return None

    def _scrip(self, segment: str, security_id: str) -> dict[str, str] | None:
        exchange_id, _, _ = segment.partition("_")
        exchange_id = "NSE" if segment == "IDX_I" else exchange_id
        return next((row for row in self.scrips if row["SEM_SMST_SECURITY_ID"] == security_id
                     and row["SEM_EXM_EXCH_ID"] == exchange_id), None)

    def _place(self, body: dict[str, Any]) -> httpx.Response:
        if body.get("dhanClientId") != CLIENT_ID:
            return _error(400, "DH-905", "Invalid dhanClientId", "Input_Exception")
        scrip = self._scrip(str(body.get("exchangeSegment")), str(body.get("securityId")))
        if scrip is None:
            return _error(400, "DH-905", "Invalid SecurityId", "Input_Exception")
        selling_stop = body["orderType"] == "STOP_LOSS" and body["transactionType"] == "SELL"
        if selling_stop and body["triggerPrice"] < body["price"]:
            return _error(400, "DH-906", "Trigger Price should be greater than Price")
        ltp = self.prices[scrip["SEM_SMST_SECURITY_ID"]]
        required = ltp * int(body["quantity"])
        if required > self.cash:
            return _error(400, "DH-906", MARGIN_REJECTION.format(required=required, available=self.cash))
        orderid = str(next(self._ids))
        now = _now_ist()
        self.orders[orderid] = {
            **fixture("order_book.json")[0], "dhanClientId": CLIENT_ID, "orderId": orderid,
            "correlationId": body.get("correlationId", ""), "orderStatus": "PENDING",
            "transactionType": body["transactionType"], "exchangeSegment": body["exchangeSegment"],
            "productType": body["productType"], "orderType": body["orderType"], "validity": body["validity"],
            "tradingSymbol": scrip["SEM_TRADING_SYMBOL"], "securityId": body["securityId"],
            "quantity": int(body["quantity"]), "price": body["price"], "triggerPrice": body["triggerPrice"],
            "createTime": now, "updateTime": now, "exchangeTime": now, "remainingQuantity": int(body["quantity"]),
            "averageTradedPrice": 0, "filledQty": 0,
        }
        self._match(self.orders[orderid])
        return httpx.Response(200, json={"orderId": orderid, "orderStatus": "TRANSIT"})

    def _match(self, order: dict[str, Any]) -> None:
        if order["orderType"] in ("STOP_LOSS", "STOP_LOSS_MARKET"):
            return
        ltp = self.prices[order["securityId"]]
        limit = D(str(order["price"] or 0))
        buying = order["transactionType"] == "BUY"
        if order["orderType"] == "LIMIT" and (limit < ltp if buying else limit > ltp):
            return
        self._execute(order)

    def _execute(self, order: dict[str, Any]) -> None:
        ltp = self.prices[order["securityId"]]
        order.update(orderStatus="TRADED", filledQty=order["quantity"], remainingQuantity=0,
                     averageTradedPrice=float(ltp))
        self.trades.append({
            **fixture("trade_book.json")[0], "dhanClientId": CLIENT_ID, "orderId": order["orderId"],
            "exchangeOrderId": f"1{order['orderId']}", "exchangeTradeId": f"T{order['orderId']}",
            "transactionType": order["transactionType"], "exchangeSegment": order["exchangeSegment"],
            "productType": order["productType"], "orderType": order["orderType"],
            "tradingSymbol": order["tradingSymbol"], "securityId": order["securityId"],
            "tradedQuantity": order["quantity"], "tradedPrice": float(ltp), "createTime": order["createTime"],
            "updateTime": _now_ist(), "exchangeTime": _now_ist(),
        })

    def _one_order(self, method: str, orderid: str, body: dict[str, Any] | None) -> httpx.Response:
        order = self.orders.get(orderid)
        if order is None:
            return _error(400, "DH-906", f"Order {orderid} not found")
        if method == "GET":
            return httpx.Response(200, json=order)
        if order["orderStatus"] not in ("PENDING", "TRANSIT", "PART_TRADED"):
            verb = "modified" if method == "PUT" else "cancelled"
            return _error(400, "DH-906", f"Order cannot be {verb} as it is {order['orderStatus']}")
        if method == "DELETE":
            order.update(orderStatus="CANCELLED", updateTime=_now_ist())
            return httpx.Response(202, json={"orderId": orderid, "orderStatus": "CANCELLED"})
        assert body is not None and body.get("orderId") == orderid and body.get("dhanClientId") == CLIENT_ID
        order.update({key: body[key] for key in ("quantity", "price", "triggerPrice", "orderType") if key in body})
        order["remainingQuantity"] = int(order["quantity"]) - int(order["filledQty"])
        self._match(order)
        return httpx.Response(200, json={"orderId": orderid, "orderStatus": "TRANSIT"})

    def _positions(self) -> list[dict[str, Any]]:
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        for fill in self.trades:
            key = (fill["securityId"], fill["exchangeSegment"], fill["productType"])
            row = rows.setdefault(key, {**fixture("positions.json")[0], "dhanClientId": CLIENT_ID,
                                        "tradingSymbol": fill["tradingSymbol"], "securityId": key[0],
                                        "exchangeSegment": key[1], "productType": key[2], "dayBuyQty": 0,
                                        "daySellQty": 0, "dayBuyValue": 0.0, "daySellValue": 0.0})
            side = "Buy" if fill["transactionType"] == "BUY" else "Sell"
            row[f"day{side}Qty"] += fill["tradedQuantity"]
            row[f"day{side}Value"] += fill["tradedQuantity"] * fill["tradedPrice"]
        for row in rows.values():
            row["netQty"] = row["dayBuyQty"] - row["daySellQty"]
            row["buyQty"], row["sellQty"] = row["dayBuyQty"], row["daySellQty"]
            row["buyAvg"] = row["dayBuyValue"] / row["dayBuyQty"] if row["dayBuyQty"] else 0.0
            row["sellAvg"] = row["daySellValue"] / row["daySellQty"] if row["daySellQty"] else 0.0
            row["costPrice"] = row["buyAvg"] if row["netQty"] > 0 else row["sellAvg"]
            row["unrealizedProfit"] = (float(self.prices[row["securityId"]]) - row["costPrice"]) * row["netQty"]
            row["positionType"] = "LONG" if row["netQty"] > 0 else "SHORT" if row["netQty"] < 0 else "CLOSED"
        return list(rows.values())

    def _quotes(self, body: dict[str, list[int]], *, full: bool) -> httpx.Response:
        data: dict[str, dict[str, Any]] = {}
        for segment, ids in body.items():
            for security_id in ids:
                ltp = self.prices.get(str(security_id))
                if ltp is None:
                    continue
                row: dict[str, Any] = {"last_price": float(ltp)}
                if full:
                    tick = D("0.05")
                    row = {**fixture("marketfeed_quote.json")["data"]["NSE_FNO"]["49081"], "last_price": float(ltp),
                           "ohlc": {"open": float(ltp), "high": float(ltp + 5), "low": float(ltp - 5),
                                    "close": float(ltp - 1)}, "volume": 123456,
                           "depth": {"buy": [{"quantity": 100 * n, "orders": n, "price": float(ltp - tick * n)}
                                             for n in range(1, 6)],
                                     "sell": [{"quantity": 50 * n, "orders": n, "price": float(ltp + tick * n)}
                                              for n in range(1, 6)]}}
                data.setdefault(segment, {})[str(security_id)] = row
        return httpx.Response(200, json={"data": data, "status": "success"})

    def _bars(self, body: dict[str, Any], *, daily: bool) -> httpx.Response:
        ltp = self.prices.get(str(body.get("securityId")))
        if ltp is None:
            return httpx.Response(400, json={"status": "failed", "data": {"813": "Invalid SecurityId"}})
        start = date.fromisoformat(str(body["fromDate"])[:10])
        stop = date.fromisoformat(str(body["toDate"])[:10])
        days = [start + timedelta(days=n) for n in range((stop - start).days + (0 if daily else 1))]
        stamps = [int(datetime(day.year, day.month, day.day, 3, 45, tzinfo=UTC).timestamp()) for day in days
                  if day.weekday() < 5]
        if not stamps:
            return _error(400, "DH-907", "No data present", "Data_Error")
        price = float(ltp)
        return httpx.Response(200, json={"open": [price] * len(stamps), "high": [price + 2] * len(stamps),
                                         "low": [price - 2] * len(stamps), "close": [price] * len(stamps),
                                         "volume": [1000] * len(stamps), "timestamp": stamps,
                                         "open_interest": [0] * len(stamps)})

    def _forever_place(self, body: dict[str, Any]) -> httpx.Response:
        if self._scrip(str(body.get("exchangeSegment")), str(body.get("securityId"))) is None:
            return _error(400, "DH-905", "Invalid SecurityId", "Input_Exception")
        orderid = str(next(self._ids))
        leg = {"dhanClientId": CLIENT_ID, "orderId": orderid, "orderStatus": "PENDING",
               "transactionType": body["transactionType"], "exchangeSegment": body["exchangeSegment"],
               "productType": body["productType"], "orderType": body["orderFlag"],
               "tradingSymbol": "", "securityId": body["securityId"], "quantity": body["quantity"],
               "price": body["price"], "triggerPrice": body["triggerPrice"], "createTime": _now_ist()}
        if body["orderFlag"] == "OCO":
            self.forever[orderid] = [{**leg, "legName": "STOP_LOSS_LEG"},
                                     {**leg, "legName": "TARGET_LEG", "price": body["price1"],
                                      "triggerPrice": body["triggerPrice1"], "quantity": body["quantity1"]}]
        else:
            self.forever[orderid] = [{**leg, "legName": "ENTRY_LEG"}]
        return httpx.Response(200, json={"orderId": orderid, "orderStatus": "PENDING"})

    def _forever_one(self, method: str, orderid: str, body: dict[str, Any] | None) -> httpx.Response:
        legs = self.forever.get(orderid)
        if legs is None:
            return _error(400, "DH-906", f"Forever order {orderid} not found")
        if method == "DELETE":
            for leg in legs:
                leg["orderStatus"] = "CANCELLED"
            return httpx.Response(200, json={"orderId": orderid, "orderStatus": "CANCELLED"})
        assert body is not None
        leg = next((leg for leg in legs if leg["legName"] == body.get("legName")), None)
        if leg is None:
            return _error(400, "DH-905", f"Invalid legName {body.get('legName')}", "Input_Exception")
        leg.update(price=body["price"], triggerPrice=body["triggerPrice"], quantity=body["quantity"])
        return httpx.Response(200, json={"orderId": orderid, "orderStatus": "PENDING"})


def credentials(**change: Any) -> BrokerCredentials:
    fields: dict[str, Any] = {"broker": "dhan", "client_id": CLIENT_ID, "access_token": TOKEN}
    fields.update(change)
    return BrokerCredentials(**fields)


def load_instruments(rows: Iterator[Any]) -> int:
    """Put Dhan's master contract in the table (tests of the adapter alone)."""
    return contract_env.load_instruments("dhan", rows)


@contextmanager
def serving() -> Iterator[FakeDhan]:
    """DhanHQ v2 at its real base URL and the scrip master at its real URL, answered by a
    FakeDhan (respx active; nothing leaves the machine)."""
    exchange = FakeDhan()
    dhan_client.close()
    with respx.mock(assert_all_called=False) as router:
        router.get(SCRIP_MASTER_URL).mock(side_effect=lambda request: httpx.Response(200, text=_csv(exchange.scrips)))
        router.route(url__startswith=DEFAULT_BASE_URL).mock(side_effect=exchange.serve)
        yield exchange
    dhan_client.close()


@contextmanager
def market() -> Iterator[FakeDhan]:
    """The exchange plus its master contract loaded, as after the daily download (needs the db)."""
    from .adapter import DhanAdapter

    with serving() as exchange:
        load_instruments(iter(DhanAdapter(None, credentials()).master_contract()))
        exchange.calls.clear()
        exchange.bodies.clear()
        yield exchange
    lookup_cache.clear()


@pytest.fixture
def dhan_exchange() -> Iterator[FakeDhan]:
    with serving() as exchange:
        yield exchange


@pytest.fixture
def dhan_market(db) -> Iterator[FakeDhan]:
    with market() as exchange:
        yield exchange


@pytest.fixture
def dhan_contract(db) -> Iterator[ContractEnvironment]:
    with market() as exchange:
        yield ContractEnvironment("dhan", credentials, exchange)


# --- The lead's benchmarks ---------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def synthetic_rows(rows: int) -> list[dict[str, str]]:
    """About ``rows`` scrip-master rows mixing every kind (NSE SBIN among them)."""
    out = [dict(row) for row in SCRIPS]
    kinds = ("EQUITY", "FUTSTK", "OPTSTK", "OPTIDX", "FUTCUR", "OPTCUR", "FUTCOM", "OPTFUT", "INDEX")
    serial = 1_000_000
    while len(out) < rows:
        serial += 1
        kind = kinds[serial % len(kinds)]
        expiry = date(2026, 1 + serial % 12, 1 + serial % 27)
        month = f"{_MONTHS[expiry.month - 1]}{expiry.year}"
        stamp = f"{expiry.isoformat()} 14:30:00"
        strike = str(100 + serial % 5000)
        option = "CE" if serial % 2 else "PE"
        name = f"S{serial}"
        if kind == "EQUITY":
            row = _scrip("NSE" if serial % 3 else "BSE", "E", str(serial), kind, name, name=name)
        elif kind == "INDEX":
            row = _scrip("NSE", "I", str(serial), kind, f"IDX {serial}", tick="0.0000")
        elif kind == "FUTSTK":
            row = _scrip("NSE", "D", str(serial), kind, f"{name}-{month}-FUT", lot="500.0", expiry=stamp, flag="M")
        elif kind in ("OPTSTK", "OPTIDX"):
            row = _scrip("BSE" if serial % 5 == 0 else "NSE", "D", str(serial), kind,
                         f"{name}-{month}-{strike}-{option}", lot="75.0", expiry=stamp, strike=strike, option=option,
                         flag="W" if serial % 4 else "M")
        elif kind == "FUTCUR":
            row = _scrip("NSE", "C", str(serial), kind, f"C{serial}-{month}-FUT", expiry=stamp, tick="0.2500")
        elif kind == "OPTCUR":
            row = _scrip("BSE", "C", str(serial), kind, f"C{serial}-{month}-83.25-{option}", expiry=stamp,
                         strike="83.25", option=option, tick="0.2500")
        elif kind == "FUTCOM":
            row = _scrip("MCX", "M", str(serial), kind, f"M{serial}-{month}-FUT", lot="100.0", expiry=stamp,
                         tick="100.0000")
        else:
            row = _scrip("MCX", "M", str(serial), kind, f"M{serial}-{month}-{strike}-{option}", expiry=stamp,
                         strike=strike, option=option, tick="50.0000")
        out.append(row)
    return out


def synthetic_dump(router: respx.MockRouter, rows: int) -> None:
    """Route the scrip-master URL to a generated dump of about ``rows`` rows."""
    text = _csv(synthetic_rows(rows))
    router.get(SCRIP_MASTER_URL).mock(return_value=httpx.Response(200, text=text))


def order_world(router: respx.MockRouter) -> tuple[BrokerCredentials, OrderRequest]:
    """The place-order endpoint answering Dhan's documented success, and an NSE SBIN
    MARKET order (the instruments of ``synthetic_dump`` assumed loaded)."""
    router.post(f"{DEFAULT_BASE_URL}/orders").mock(
        return_value=httpx.Response(200, json=fixture("place_order_response.json")))
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=D(1),
                           product=Product.MIS, pricetype=PriceType.MARKET, tag="oa1")
    return credentials(), request
