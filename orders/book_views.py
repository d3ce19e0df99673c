"""The trader's books as pages: orders, trades, positions and holdings, read from the same
adapter calls and shaped by the same presenters as the API's orderbook, tradebook,
positionbook and holdings; each also as CSV (``?format=csv``). The actions (cancel an
order, cancel all, close a position, close all) run through orders.services exactly as
the API's endpoints do: risk checks, semi-auto, the ledger and the order event apply."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import audit
from accounts.otp import verified_login_required
from brokers.base import BrokerAdapter
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from core.errors import ServiceError
from core.values import ZERO
from orders import presenters, services
from orders.services import OrderPath

# Rows rendered per page (the CSV has them all); the table sorts and filters what it shows.
PAGE_SIZE = 200
WORKING = (str(OrderStatus.OPEN), str(OrderStatus.TRIGGER_PENDING))
# What the actions send as the request's strategy (the API requires one).
STRATEGY = "Web"
EXCHANGES = frozenset(e.value for e in Exchange)
PRODUCTS = frozenset(p.value for p in Product)


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, num, pnl (coloured number), status
    paper_only: bool = False


ORDER_COLUMNS = (
    Column("timestamp", "Time"), Column("orderid", "Order ID"), Column("symbol", "Symbol"),
    Column("exchange", "Exchange"), Column("action", "Action"), Column("quantity", "Qty", "num"),
    Column("filled_quantity", "Filled", "num", True), Column("price", "Price", "num"),
    Column("trigger_price", "Trigger", "num"), Column("average_price", "Avg price", "num", True),
    Column("pricetype", "Type"), Column("product", "Product"), Column("order_status", "Status", "status"),
    Column("strategy", "Strategy", paper_only=True),
)
TRADE_COLUMNS = (
    Column("timestamp", "Time"), Column("orderid", "Order ID"), Column("symbol", "Symbol"),
    Column("exchange", "Exchange"), Column("action", "Action"), Column("product", "Product"),
    Column("quantity", "Qty", "num"), Column("average_price", "Avg price", "num"),
    Column("trade_value", "Value", "num"), Column("strategy", "Strategy", paper_only=True),
)
POSITION_COLUMNS = (
    Column("symbol", "Symbol"), Column("exchange", "Exchange"), Column("product", "Product"),
    Column("quantity", "Net qty", "num"), Column("average_price", "Avg price", "num"), Column("ltp", "LTP", "num"),
    Column("unrealized_pnl", "Unrealised", "pnl", True), Column("today_realized_pnl", "Realised", "pnl", True),
    Column("pnl", "P&L", "pnl"),
)
HOLDING_COLUMNS = (
    Column("symbol", "Symbol"), Column("exchange", "Exchange"), Column("product", "Product"),
    Column("quantity", "Qty", "num"), Column("average_price", "Avg price", "num"),
    Column("ltp", "LTP", "num", True), Column("current_value", "Value", "num", True),
    Column("pnl", "P&L", "pnl"), Column("pnlpercent", "P&L %", "pnl"),
)


@dataclass
class Book:
    """One book as the page shows it: rows (presenter dicts), their columns, summary figures."""

    rows: list[dict]
    columns: tuple[Column, ...]
    summary: list[tuple[str, Any, str]]  # (label, value, kind)
    error: str = ""


def _paper(adapter: BrokerAdapter) -> bool:
    return adapter.capabilities.paper


def _columns(columns: tuple[Column, ...], paper: bool) -> tuple[Column, ...]:
    return tuple(c for c in columns if paper or not c.paper_only)


def order_book(adapter: BrokerAdapter) -> Book:
    paper = _paper(adapter)
    shaped = presenters.order_book(adapter.order_book(), paper)
    stats = shaped["statistics"]
    summary = [("Buy orders", stats["total_buy_orders"], "num"), ("Sell orders", stats["total_sell_orders"], "num"),
               ("Open", stats["total_open_orders"], "num"), ("Completed", stats["total_completed_orders"], "num"),
               ("Rejected", stats["total_rejected_orders"], "num")]
    return Book(shaped["orders"], _columns(ORDER_COLUMNS, paper), summary)


def trade_book(adapter: BrokerAdapter) -> Book:
    paper = _paper(adapter)
    rows = [presenters.trade_row(t, paper) for t in adapter.trade_book()]
    value = sum(r["trade_value"] for r in rows)
    return Book(rows, _columns(TRADE_COLUMNS, paper), [("Trades", len(rows), "num"),
                                                        ("Traded value", round(value, 2), "num")])


def position_book(adapter: BrokerAdapter) -> Book:
    paper = _paper(adapter)
    rows, totals = presenters.position_book(adapter.positions(), paper)
    pnl = totals.get("total_pnl", round(sum(r["pnl"] for r in rows), 2))
    summary = [("Open positions", sum(1 for r in rows if r["quantity"]), "num"), ("P&L", pnl, "pnl")]
    if paper:
        summary += [("Unrealised", totals["total_unrealized_pnl"], "pnl"),
                    ("Realised", totals["total_today_realized_pnl"], "pnl")]
    return Book(rows, _columns(POSITION_COLUMNS, paper), summary)


def holdings_book(adapter: BrokerAdapter) -> Book:
    paper = _paper(adapter)
    shaped = presenters.holdings(adapter.holdings(), paper)
    stats = shaped["statistics"]
    summary = [("Holding value", stats["totalholdingvalue"], "num"), ("Invested", stats["totalinvvalue"], "num"),
               ("P&L", stats["totalprofitandloss"], "pnl"), ("P&L %", stats["totalpnlpercentage"], "pnl")]
    return Book(shaped["holdings"], _columns(HOLDING_COLUMNS, paper), summary)


@dataclass(frozen=True, slots=True)
class Page:
    name: str  # the URL name within orders:
    title: str
    read: Callable[[BrokerAdapter], Book]
    row_testid: str
    empty: str

    @property
    def url_name(self) -> str:
        return f"orders:{self.name}"


PAGES = {
    "orderbook": Page("orderbook", "Orders", order_book, "order-row", "No orders today."),
    "tradebook": Page("tradebook", "Trades", trade_book, "trade-row", "No trades today."),
    "positions": Page("positions", "Positions", position_book, "position-row", "No positions today."),
    "holdings": Page("holdings", "Holdings", holdings_book, "holding-row", "No holdings."),
}


def _read(page: Page, user) -> Book:
    """The book, or an empty one with the broker's failure in words (never a 500)."""
    try:
        return page.read(services.adapter_for(user))
    except ServiceError as exc:
        text = exc.message if exc.http_status < 500 else "the broker did not answer"
        return Book([], (), [], error=f"Your {page.title.lower()} could not be read: {text}.")


def _cells(row: dict, columns: tuple[Column, ...]) -> list[tuple[Any, str]]:
    return [(row.get(c.key, ""), c.kind) for c in columns]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    """A spreadsheet must not run a cell as a formula (a strategy name is the user's text)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv(page: Page, book: Book) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="{page.name}-{day}.csv"'
    keys = list(book.rows[0]) if book.rows else [c.key for c in book.columns]
    writer = csv.writer(response)
    writer.writerow(keys)
    for row in book.rows:
        writer.writerow([_csv_value(row.get(k, "")) for k in keys])
    return response


def _page_number(request: HttpRequest) -> int | None:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else None


def render_book(request: HttpRequest, name: str, status: int = 200) -> HttpResponse:
    page = PAGES[name]
    fmt = request.GET.get("format", "html")
    number = _page_number(request)
    if fmt not in ("html", "csv") or number is None:
        return HttpResponseBadRequest("Bad request: format is html or csv, page a positive whole number.",
                                      content_type="text/plain")
    book = _read(page, request.user)
    if fmt == "csv":
        if book.error:
            return HttpResponse(book.error, status=502, content_type="text/plain")
        return _csv(page, book)
    paginator = Paginator(book.rows, PAGE_SIZE)
    shown = paginator.get_page(number)
    context = {
        "page": page, "book": book, "shown": shown, "paginated": paginator.num_pages > 1,
        "rows": [(row, _cells(row, book.columns)) for row in shown.object_list],
        "working": WORKING, "can_cancel_all": name == "orderbook" and any(
            r["order_status"] in WORKING for r in book.rows),
        "can_close_all": name == "positions" and any(r["quantity"] for r in book.rows),
    }
    template = "orders/books/_table.html" if request.headers.get("HX-Request") else "orders/books/book.html"
    return render(request, template, context, status=status)


def _book_view(name: str) -> Callable[[HttpRequest], HttpResponse]:
    @never_cache
    @require_GET
    @verified_login_required
    def view(request: HttpRequest) -> HttpResponse:
        return render_book(request, name)

    view.__name__ = view.__qualname__ = name
    return view


orderbook = _book_view("orderbook")
tradebook = _book_view("tradebook")
positions = _book_view("positions")
holdings = _book_view("holdings")


# --- Actions --------------------------------------------------------------------------------------

def _run(request: HttpRequest, path: OrderPath, data: dict[str, Any], back: str, what: str) -> HttpResponse:
    """Run ``path`` as the API would and say how it went. A refusal the trader can act on
    (4xx) re-renders the book with that status; a broker failure is reported, never a 500."""
    outcome = services.submit_order_request(user=request.user, path=path, data={"strategy": STRATEGY, **data},
                                            source="web")
    body = outcome.body
    audit.record(f"web_{path}", actor=request.user.username, subject=what,
                 detail={"request": data, "status": outcome.status, "answer": body}, ip=audit.client_ip(request))
    message = str(body.get("message", ""))
    if outcome.succeeded:
        messages.success(request, _success_text(path, body, what))
        return redirect(f"orders:{back}")
    if 400 <= outcome.status < 500:
        messages.error(request, f"{what}: {message or 'refused'}")
        return render_book(request, back, status=outcome.status)
    messages.error(request, f"{what}: {message or 'the broker did not answer'}")
    return redirect(f"orders:{back}")


def _success_text(path: OrderPath, body: dict, what: str) -> str:
    if path == OrderPath.CANCEL:
        return f"Order {body.get('orderid', '')} cancelled."
    if path == OrderPath.SMART:
        if body.get("orderid"):
            return f"{what}: exit order {body['orderid']} sent."
        if body.get("message") in (services.NO_POSITION_TO_EXIT, services.ALREADY_MATCHED):
            return f"{what}: no open position, nothing was sent."
    return f"{what}: {str(body.get('message', 'done')).rstrip('.')}."


def _bad(request: HttpRequest, back: str, text: str) -> HttpResponse:
    messages.error(request, text)
    return render_book(request, back, status=400)


@require_POST
@verified_login_required
def cancel_order(request: HttpRequest) -> HttpResponse:
    orderid = request.POST.get("orderid", "").strip()
    if not orderid or len(orderid) > 64:
        return _bad(request, "orderbook", "Cancel: which order? The order ID is missing or too long.")
    return _run(request, OrderPath.CANCEL, {"orderid": orderid}, "orderbook", f"Cancel order {orderid}")


@require_POST
@verified_login_required
def cancel_all(request: HttpRequest) -> HttpResponse:
    return _run(request, OrderPath.CANCEL_ALL, {}, "orderbook", "Cancel all orders")


@require_POST
@verified_login_required
def close_position(request: HttpRequest) -> HttpResponse:
    """One position to zero: the API's smart order with a target size of 0, at MARKET."""
    symbol = request.POST.get("symbol", "").strip()
    exchange, product = request.POST.get("exchange", ""), request.POST.get("product", "")
    if not symbol or len(symbol) > 64 or exchange not in EXCHANGES or product not in PRODUCTS:
        return _bad(request, "positions", "Close position: the symbol, exchange or product is not valid.")
    data = {"symbol": symbol, "exchange": Exchange(exchange), "product": Product(product), "action": Action.SELL,
            "quantity": ZERO, "pricetype": PriceType.MARKET, "price": ZERO, "trigger_price": ZERO,
            "disclosed_quantity": 0, "position_size": ZERO}
    return _run(request, OrderPath.SMART, data, "positions", f"Close {exchange}:{symbol} {product}")


@require_POST
@verified_login_required
def close_all(request: HttpRequest) -> HttpResponse:
    return _run(request, OrderPath.CLOSE, {}, "positions", "Close all positions")
