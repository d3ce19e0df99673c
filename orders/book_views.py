"""The trader's books as pages: orders, trades, positions and holdings, read from the same
adapter calls and shaped by the same presenters as the API's orderbook, tradebook,
positionbook and holdings; each also as CSV (``?format=csv``). The actions (cancel an
order, cancel all, close a position, close all) run through orders.services exactly as
the API's endpoints do: risk checks, semi-auto, the ledger and the order event apply."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from html import escape as html_escape
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
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
PAGE_SIZE = 100
WORKING = (str(OrderStatus.OPEN), str(OrderStatus.TRIGGER_PENDING))
# What the actions send as the request's strategy (the API requires one).
STRATEGY = "Web"
EXCHANGES = frozenset(e.value for e in Exchange)
PRODUCTS = frozenset(p.value for p in Product)


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, num, pnl (coloured number), status, side (BUY/SELL), time (today's: the clock only)
    paper_only: bool = False


ORDER_COLUMNS = (
    Column("timestamp", "Time", "time"), Column("orderid", "Order ID"), Column("symbol", "Symbol"),
    Column("exchange", "Exchange"), Column("action", "Side", "side"), Column("quantity", "Qty", "num"),
    Column("filled_quantity", "Filled", "num", True), Column("price", "Price", "num"),
    Column("trigger_price", "Trigger", "num"), Column("average_price", "Avg price", "num", True),
    Column("pricetype", "Type"), Column("product", "Product"), Column("order_status", "Status", "status"),
    Column("strategy", "Strategy", paper_only=True),
)
TRADE_COLUMNS = (
    Column("timestamp", "Time", "time"), Column("orderid", "Order ID"), Column("symbol", "Symbol"),
    Column("exchange", "Exchange"), Column("action", "Side", "side"), Column("product", "Product"),
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
    """One book as the page shows it: the adapter's items, shaped into the API's rows by
    ``present`` (only the rows a page shows, or all of them for the CSV), their columns,
    and summary figures."""

    items: list[Any]
    present: Callable[[Any], dict]
    columns: tuple[Column, ...]
    summary: list[tuple[str, Any, str]]  # (label, value, kind)
    error: str = ""

    def rows(self, items: list[Any] | None = None) -> list[dict]:
        return [self.present(item) for item in (self.items if items is None else items)]


def _paper(adapter: BrokerAdapter) -> bool:
    return adapter.capabilities.paper


def _columns(columns: tuple[Column, ...], paper: bool) -> tuple[Column, ...]:
    return tuple(c for c in columns if paper or not c.paper_only)


def _as_is(row: dict) -> dict:
    return row


def order_book(adapter: BrokerAdapter) -> Book:
    paper = _paper(adapter)
    orders = adapter.order_book()
    stats = presenters.order_statistics(orders, paper)
    summary = [("Buy orders", stats["total_buy_orders"], "num"), ("Sell orders", stats["total_sell_orders"], "num"),
               ("Open", stats["total_open_orders"], "num"), ("Completed", stats["total_completed_orders"], "num"),
               ("Rejected", stats["total_rejected_orders"], "num")]
    return Book(orders, partial(presenters.order_row, paper=paper), _columns(ORDER_COLUMNS, paper), summary)


def trade_book(adapter: BrokerAdapter) -> Book:
    paper = _paper(adapter)
    trades = adapter.trade_book()
    value = presenters.money(sum((t.trade_value for t in trades), ZERO))
    return Book(trades, partial(presenters.trade_row, paper=paper), _columns(TRADE_COLUMNS, paper),
                [("Trades", len(trades), "num"), ("Traded value", value, "num")])


def position_book(adapter: BrokerAdapter) -> Book:
    paper = _paper(adapter)
    rows, totals = presenters.position_book(adapter.positions(), paper)
    pnl = totals.get("total_pnl", round(sum(r["pnl"] for r in rows), 2))
    summary = [("Open positions", sum(1 for r in rows if r["quantity"]), "num"), ("P&L", pnl, "pnl")]
    if paper:
        summary += [("Unrealised", totals["total_unrealized_pnl"], "pnl"),
                    ("Realised", totals["total_today_realized_pnl"], "pnl")]
    return Book(rows, _as_is, _columns(POSITION_COLUMNS, paper), summary)


def holdings_book(adapter: BrokerAdapter) -> Book:
    paper = _paper(adapter)
    shaped = presenters.holdings(adapter.holdings(), paper)
    stats = shaped["statistics"]
    summary = [("Holding value", stats["totalholdingvalue"], "num"), ("Invested", stats["totalinvvalue"], "num"),
               ("P&L", stats["totalprofitandloss"], "pnl"), ("P&L %", stats["totalpnlpercentage"], "pnl")]
    return Book(shaped["holdings"], _as_is, _columns(HOLDING_COLUMNS, paper), summary)


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
        return Book([], _as_is, (), [], error=f"Your {page.title.lower()} could not be read: {text}.")


def escape(value: Any) -> str:
    """HTML-escaped text of ``value`` (the standard library's: several times Django's speed)."""
    if isinstance(value, str):
        return html_escape(value)
    return str(value) if isinstance(value, (int, float)) else html_escape(str(value))


_BADGE = {"complete": "badge-success", "rejected": "badge-error", "cancelled": "badge-ghost"}


def _cell(value: Any, kind: str) -> str:
    text = escape(value)
    if kind == "num":
        return f'<td class="num" data-value="{text}">{text}</td>'
    if kind == "pnl":
        number = value if isinstance(value, (int, float)) else 0
        tone = " pnl-up" if number > 0 else " pnl-down" if number < 0 else ""
        return f'<td class="num{tone}" data-value="{text}">{text}</td>'
    if kind == "status":
        badge = _BADGE.get(value, "badge-info") + " whitespace-nowrap"
        return f'<td><span class="badge badge-sm {badge}" data-testid="order-status">{text}</span></td>'
    if kind == "side":
        tone = "text-success" if value == "BUY" else "text-error"
        return f'<td class="font-semibold {tone}">{text}</td>'
    if kind == "time":  # "YYYY-MM-DD HH:MM:SS" (IST): today's books show the clock, the full stamp on hover
        return f'<td class="whitespace-nowrap" title="{text}" data-value="{text}">{text[11:] or text}</td>'
    return f'<td class="whitespace-nowrap">{text}</td>'


def _rows_html(request: HttpRequest, page: Page, columns: tuple[Column, ...], rows: list[dict]) -> SafeString:
    """The table's rows, written here rather than by the template engine: a page of 100
    orders costs a few milliseconds this way, ten times that through {% for %}."""
    csrf = f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(get_token(request))}">'
    cancel_url, close_url = reverse("orders:cancel_order"), reverse("orders:close_position")
    out = []
    for row in rows:
        if page.name in ("orderbook", "tradebook"):
            keys = f'data-orderid="{escape(row["orderid"])}"'
        else:
            keys = (f'data-symbol="{escape(row["symbol"])}" data-exchange="{escape(row["exchange"])}" '
                    f'data-product="{escape(row["product"])}"')
        cells = "".join(_cell(row.get(c.key, ""), c.kind) for c in columns)
        action = ""
        if page.name == "orderbook":
            action = "<td></td>"
            if row["order_status"] in WORKING:
                question = escape(f"Cancel order {row['orderid']} ({row['action']} {row['quantity']} {row['symbol']})?")
                action = (f'<td><form method="post" action="{cancel_url}" data-confirm="{question}">{csrf}'
                          f'<input type="hidden" name="orderid" value="{escape(row["orderid"])}">'
                          '<button type="submit" class="btn btn-xs btn-outline btn-warning" '
                          'data-testid="cancel-order">Cancel</button></form></td>')
        elif page.name == "positions":
            action = "<td></td>"
            if row["quantity"]:
                what = f"{row['exchange']}:{row['symbol']} {row['product']}"
                question = escape(f"Close {what} ({row['quantity']}) at market?")
                action = (f'<td><form method="post" action="{close_url}" data-confirm="{question}">{csrf}'
                          f'<input type="hidden" name="symbol" value="{escape(row["symbol"])}">'
                          f'<input type="hidden" name="exchange" value="{escape(row["exchange"])}">'
                          f'<input type="hidden" name="product" value="{escape(row["product"])}">'
                          '<button type="submit" class="btn btn-xs btn-outline btn-error" '
                          'data-testid="close-position">Close</button></form></td>')
        out.append(f'<tr data-testid="{page.row_testid}" {keys}>{cells}{action}</tr>')
    return mark_safe("".join(out))  # noqa: S308  (every value above is escaped)


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
    rows = book.rows()
    keys = list(rows[0]) if rows else [c.key for c in book.columns]
    writer = csv.writer(response)
    writer.writerow(keys)
    for row in rows:
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
    paginator = Paginator(book.items, PAGE_SIZE)
    shown = paginator.get_page(number)
    context = {
        "page": page, "book": book, "shown": shown, "paginated": paginator.num_pages > 1,
        "rows_html": _rows_html(request, page, book.columns, book.rows(list(shown.object_list))),
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
