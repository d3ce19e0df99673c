"""The trading pages: place an order (with symbol search as you type), modify and cancel a
working order, a basket builder, an options order form, and the Action Center with the
semi-auto switch.

Every order goes through ``orders.services.submit_order_request`` exactly as the API's do
(idempotency, semi-auto queueing, risk checks, ledger, order event), tagged with the
strategy "web" and the ledger source "web". Each form carries a one-time request key, so a
double click or a reloaded POST gets the first answer back instead of a second order. Any
refusal (bad input, risk, the broker) is shown on the form with a 400."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit
from accounts.brokers import active_broker_name
from accounts.otp import verified_login_required
from accounts.services import set_order_mode
from brokers.selectors import expiries, instruments, latest_contract_load, search_instruments
from brokers.symbols import SymbolFormatError, format_master_expiry, parse_expiry
from orders import actioncenter, services
from orders.models import TERMINAL, Order, PendingOrder
from orders.services import OrderOutcome, OrderPath
from orders.trade_forms import (
    BasketForm,
    ModifyOrderForm,
    OptionsOrderForm,
    PlaceOrderForm,
    new_request_key,
)

SEARCH_ROWS = 10
SEARCH_MIN_CHARS = 2  # one letter matches most of a master contract: wait for the second
UNDERLYINGS_TTL = 300
OPTION_TYPES = ("CE", "PE")


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _orderbook_url() -> str:
    try:
        return reverse("orders:orderbook")
    except NoReverseMatch:
        return "/orders/"


def _idempotency_key(request_key: str | None) -> str | None:
    return f"web:{request_key}" if request_key else None


def _submit(request: HttpRequest, path: OrderPath, data: dict[str, Any], request_key: str | None) -> OrderOutcome:
    return services.submit_order_request(user=request.user, path=path, data=data, source="web",
                                         idempotency_key=_idempotency_key(request_key))


def _failure(outcome: OrderOutcome) -> str:
    if outcome.status == 409:
        return "This form was already sent and its answer is not known yet. Check the order book before sending " \
               "it again."
    return str(outcome.body.get("message") or "The order was not accepted.")


def _key_after(outcome: OrderOutcome, sent: str | None) -> str:
    """The request key the re-rendered form carries: the same one while the first answer is
    still unknown (409), so sending it again can only replay that answer; else a new one."""
    return (sent or new_request_key()) if outcome.status == 409 else new_request_key()


def _queued(outcome: OrderOutcome) -> bool:
    return outcome.succeeded and outcome.body.get("mode") == "semi_auto"


# --- Place an order ----------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def place_order(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"orderbook_url": _orderbook_url()}
    if request.method == "GET":
        initial = {"request_key": new_request_key()}
        for name in ("symbol", "exchange", "action"):
            if request.GET.get(name):
                initial[name] = request.GET[name]
        context["form"] = PlaceOrderForm(initial=initial)
        return render(request, "orders/place_order.html", context)
    form = PlaceOrderForm(request.POST)
    if not form.is_valid():
        context["form"] = form
        return render(request, "orders/place_order.html", context, status=400)
    outcome = _submit(request, OrderPath.PLACE, form.order_data(), form.cleaned_data.get("request_key"))
    kept = ("symbol", "exchange", "action", "product", "pricetype")
    again = {"request_key": _key_after(outcome, form.cleaned_data.get("request_key")),
             **{name: form.cleaned_data[name] for name in kept}}
    if not outcome.succeeded:
        context.update(form=PlaceOrderForm(initial={**form.cleaned_data, **again}), error=_failure(outcome))
        return render(request, "orders/place_order.html", context, status=400)
    context.update(form=PlaceOrderForm(initial=again), result=outcome.body, queued=_queued(outcome),
                   placed=form.leg)
    return render(request, "orders/place_order.html", context)


@never_cache
@require_GET
@verified_login_required
def symbol_search(request: HttpRequest) -> HttpResponse:
    """The place-order page's search as you type: the API's ``search`` over the user's data
    broker's master contract, first few rows."""
    query = (request.GET.get("q") or request.GET.get("symbol") or "").strip()[:64]
    rows: list[dict] = []
    if len(query) >= SEARCH_MIN_CHARS:
        rows = search_instruments(broker=active_broker_name(request.user), query=query)[:SEARCH_ROWS]
    return render(request, "orders/partials/symbol_results.html",
                  {"rows": rows, "query": query if len(query) >= SEARCH_MIN_CHARS else ""})


# --- Modify and cancel a working order ---------------------------------------------------------


def _own_order(request: HttpRequest, orderid: str) -> Order:
    order = Order.objects.filter(user=request.user, broker_order_id=orderid).order_by("-pk").first()
    if order is None:
        raise Http404("No such order")
    return order


def _modify_page(request: HttpRequest, order: Order, form: ModifyOrderForm | None = None, *,
                 error: str = "", status: int = 200) -> HttpResponse:
    if form is None:
        form = ModifyOrderForm(order=order, initial={
            "quantity": order.quantity.normalize(), "pricetype": order.pricetype, "price": order.price.normalize(),
            "trigger_price": order.trigger_price.normalize(), "disclosed_quantity": order.disclosed_quantity})
    return render(request, "orders/modify_order.html", {
        "order": order, "form": form, "error": error, "working": order.status not in TERMINAL,
        "orderbook_url": _orderbook_url()}, status=status)


def _not_working(order: Order) -> str:
    return f"This order is {order.status}: only a working order can be changed or cancelled."


@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def modify_order(request: HttpRequest, orderid: str) -> HttpResponse:
    order = _own_order(request, orderid)
    if request.method == "GET":
        return _modify_page(request, order)
    form = ModifyOrderForm(request.POST, order=order)
    if order.status in TERMINAL:
        return _modify_page(request, order, form, error=_not_working(order), status=400)
    if not form.is_valid():
        return _modify_page(request, order, form, status=400)
    outcome = _submit(request, OrderPath.MODIFY, form.modify_data(orderid), None)
    if not outcome.succeeded:
        return _modify_page(request, order, form, error=_failure(outcome), status=400)
    messages.success(request, f"Order {orderid} modified.")
    return redirect("orders:modify_order", orderid=orderid)


@require_POST
@verified_login_required
def cancel_order(request: HttpRequest, orderid: str) -> HttpResponse:
    order = _own_order(request, orderid)
    if order.status in TERMINAL:
        return _modify_page(request, order, error=_not_working(order), status=400)
    outcome = _submit(request, OrderPath.CANCEL, {"strategy": "web", "orderid": orderid}, None)
    if not outcome.succeeded:
        return _modify_page(request, order, error=_failure(outcome), status=400)
    messages.success(request, f"Order {orderid} cancelled.")
    return redirect(_orderbook_url())


# --- Basket ------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def basket(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"orderbook_url": _orderbook_url(), "leg_form": PlaceOrderForm()}
    if request.method == "GET":
        context["form"] = BasketForm(initial={"request_key": new_request_key()})
        return render(request, "orders/basket.html", context)
    form = BasketForm(request.POST)
    if not form.is_valid():
        context["form"] = form
        return render(request, "orders/basket.html", context, status=400)
    outcome = _submit(request, OrderPath.BASKET, form.basket_data(), form.cleaned_data.get("request_key"))
    context["form"] = BasketForm(initial={"request_key": _key_after(outcome, form.cleaned_data.get("request_key"))})
    if not outcome.succeeded:
        context["error"] = _failure(outcome)
        return render(request, "orders/basket.html", context, status=400)
    context.update(result=outcome.body, queued=_queued(outcome), results=outcome.body.get("results", []))
    return render(request, "orders/basket.html", context)


# --- Options order -----------------------------------------------------------------------------


def _underlyings(broker: str) -> list[tuple[str, str]]:
    """Every underlying with listed options, index options first: ("NFO:NIFTY", "NIFTY · NFO").
    Kept for a few minutes per master-contract load (a distinct over every option row)."""
    load = latest_contract_load(broker=broker)
    key = f"web:underlyings:{broker}:{load.pk if load else 0}:{load.state if load else ''}"
    found = cache.get(key)
    if found is None:
        found = _read_underlyings(broker)
        cache.set(key, found, UNDERLYINGS_TTL)
    return [tuple(pair) for pair in found]


def _read_underlyings(broker: str) -> list[tuple[str, str]]:
    rows = (instruments(broker=broker).filter(option_type__in=OPTION_TYPES)
            .values_list("exchange", "name", "instrumenttype").distinct())
    seen: dict[tuple[str, str], bool] = {}
    for exchange, name, kind in rows:
        seen[(exchange, name)] = seen.get((exchange, name), False) or kind.upper().startswith("OPTIDX")
    ordered = sorted(seen, key=lambda key: (not seen[key], key[0], key[1]))
    return [(f"{exchange}:{name}", f"{name} · {exchange}") for exchange, name in ordered]


def _split(underlying: str) -> tuple[str, str] | None:
    exchange, _, name = underlying.partition(":")
    return (exchange, name) if exchange and name else None


def _expiries(broker: str, underlying: str) -> list[tuple[str, str]]:
    parts = _split(underlying)
    if parts is None:
        return []
    today = timezone.localdate()
    days = [d for d in expiries(broker=broker, exchange=parts[0], name=parts[1], kind="options") if d >= today]
    return [(format_master_expiry(d), d.strftime("%d %b %Y")) for d in days]


def _lotsize(broker: str, underlying: str, expiry: date) -> int | None:
    parts = _split(underlying)
    if parts is None:
        return None
    size = (instruments(broker=broker).filter(exchange=parts[0], name=parts[1], expiry=expiry,
                                              option_type__in=OPTION_TYPES)
            .values_list("lotsize", flat=True).first())
    return int(size) if size else None


def _options_form(request: HttpRequest, broker: str, data=None, initial=None) -> OptionsOrderForm:
    underlyings = _underlyings(broker)
    chosen = (data or {}).get("underlying") or (initial or {}).get("underlying") or \
        (underlyings[0][0] if underlyings else "")
    return OptionsOrderForm(data, initial=initial, underlyings=underlyings, expiries=_expiries(broker, chosen))


@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def options_order(request: HttpRequest) -> HttpResponse:
    broker = active_broker_name(request.user)
    context: dict[str, Any] = {"orderbook_url": _orderbook_url()}
    if request.method == "GET":
        context["form"] = _options_form(request, broker, initial={"request_key": new_request_key()})
        return render(request, "orders/options_order.html", context)
    form = _options_form(request, broker, data=request.POST)
    lotsize = None
    if form.is_valid():
        try:
            lotsize = _lotsize(broker, form.cleaned_data["underlying"], parse_expiry(form.cleaned_data["expiry"]))
        except SymbolFormatError:
            lotsize = None
        if lotsize is None:
            form.add_error("expiry", "No option contracts of this underlying expire then.")
    if not form.is_valid() or lotsize is None:
        context["form"] = form
        return render(request, "orders/options_order.html", context, status=400)
    data = form.options_data(lotsize)
    outcome = _submit(request, OrderPath.OPTIONS, data, form.cleaned_data.get("request_key"))
    again = {**form.cleaned_data, "request_key": _key_after(outcome, form.cleaned_data.get("request_key"))}
    context["form"] = _options_form(request, broker, initial=again)
    if not outcome.succeeded:
        context["error"] = _failure(outcome)
        return render(request, "orders/options_order.html", context, status=400)
    context.update(result=outcome.body, queued=_queued(outcome), quantity=data["quantity"], lotsize=lotsize,
                   lots=form.cleaned_data["lots"])
    return render(request, "orders/options_order.html", context)


@never_cache
@require_GET
@verified_login_required
def option_expiries(request: HttpRequest) -> HttpResponse:
    """The expiry <option>s of the chosen underlying (the options form re-fetches them)."""
    choices = _expiries(active_broker_name(request.user), request.GET.get("underlying", ""))
    return render(request, "orders/partials/expiry_options.html", {"choices": choices})


# --- Action Center -----------------------------------------------------------------------------


def _describe(pending: PendingOrder) -> str:
    p = pending.payload
    if "orders" in p:
        legs = p.get("orders") or []
        names = ", ".join(f"{leg.get('action')} {leg.get('quantity')} {leg.get('symbol')}" for leg in legs[:3])
        return f"{len(legs)} leg(s): {names}{' …' if len(legs) > 3 else ''}"
    if "legs" in p:
        return f"{p.get('underlying')} {len(p.get('legs') or [])} leg(s)"
    if "underlying" in p:
        return (f"{p.get('action')} {p.get('quantity')} {p.get('underlying')} {p.get('expiry_date') or ''} "
                f"{p.get('offset')} {p.get('option_type')}")
    text = f"{p.get('action', '')} {p.get('quantity', '')} {p.get('exchange', '')}:{p.get('symbol', '')}"
    extra = [str(p[name]) for name in ("pricetype", "product") if p.get(name)]
    if p.get("pricetype") in ("LIMIT", "SL") and p.get("price"):
        extra.append(f"@ {p['price']}")
    return " ".join([text, *extra]).strip()


def _result_text(pending: PendingOrder) -> str:
    result = pending.result or {}
    if result.get("orderid"):
        return f"Order {result['orderid']}"
    if result.get("results"):
        done = sum(1 for item in result["results"] if item.get("status") == "success")
        return f"{done}/{len(result['results'])} placed"
    return str(result.get("message", ""))


def _rows(items) -> list[dict[str, Any]]:
    return [{"pending": p, "summary": _describe(p), "result": _result_text(p)} for p in items]


def _table_context(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {"pending_rows": _rows(actioncenter.pending_for(user)),
            "decided_rows": _rows(actioncenter.decided_for(user, 20))}


def _action_center_page(request: HttpRequest, status: int = 200) -> HttpResponse:
    context = _table_context(request)
    context["semi_auto"] = request.user.order_mode == request.user.OrderMode.SEMI_AUTO
    return render(request, "orders/action_center.html", context, status=status)


@never_cache
@require_GET
@verified_login_required
def action_center(request: HttpRequest) -> HttpResponse:
    return _action_center_page(request)


@never_cache
@require_GET
@verified_login_required
def action_center_table(request: HttpRequest) -> HttpResponse:
    """The table alone: the page re-fetches it on pending_order_created/updated events."""
    return render(request, "orders/partials/pending_table.html", _table_context(request))


def _answer(request: HttpRequest, level: int, text: str, status: int = 200) -> HttpResponse:
    """After a decision: the fresh table with the notice (htmx), or back to the page."""
    if _htmx(request):
        context = {**_table_context(request), "notice": text, "notice_level": level}
        return render(request, "orders/partials/pending_table.html", context, status=status)
    messages.add_message(request, level, text)
    return redirect("orders:action_center")


def _own_pending(request: HttpRequest, pending_id: int) -> PendingOrder:
    pending = PendingOrder.objects.filter(pk=pending_id, user=request.user).first()
    if pending is None:
        raise Http404("No such pending order")
    return pending


def _already(pending: PendingOrder) -> str:
    pending.refresh_from_db()
    by = f" by {pending.decided_by}" if pending.decided_by else ""
    return f"Pending order #{pending.pk} was already {pending.state}{by}."


@require_POST
@verified_login_required
def decide_pending(request: HttpRequest, pending_id: int, decision: str) -> HttpResponse:
    pending = _own_pending(request, pending_id)
    user, actor, ip = request.user, request.user.username, audit.client_ip(request)
    if decision == "approve":
        done = actioncenter.approve(user=user, pending_id=pending.pk, actor=actor, ip=ip)
        if done is None:
            return _answer(request, messages.WARNING, _already(pending))
        if done.result.get("status") == "success":
            return _answer(request, messages.SUCCESS, f"Pending order #{done.pk} approved: {_result_text(done)}.")
        return _answer(request, messages.ERROR, f"Pending order #{done.pk} approved, but it was not placed: "
                                                f"{done.result.get('message', 'refused')}.")
    decide = {"reject": actioncenter.reject, "delete": actioncenter.delete}.get(decision)
    if decide is None:
        raise Http404("No such decision")
    done = decide(user=user, pending_id=pending.pk, actor=actor, ip=ip)
    if done is None:
        return _answer(request, messages.WARNING, _already(pending))
    return _answer(request, messages.SUCCESS, f"Pending order #{done.pk} {done.state}.")


@require_POST
@verified_login_required
def approve_all(request: HttpRequest) -> HttpResponse:
    done = actioncenter.approve_all(user=request.user, actor=request.user.username, ip=audit.client_ip(request))
    if not done:
        return _answer(request, messages.INFO, "Nothing was waiting for approval.")
    placed = sum(1 for p in done if p.result.get("status") == "success")
    level = messages.SUCCESS if placed == len(done) else messages.WARNING
    return _answer(request, level, f"{len(done)} pending order(s) approved, {placed} placed.")


@require_POST
@verified_login_required
def order_mode(request: HttpRequest) -> HttpResponse:
    """The profile switch: semi-auto on (a checked box) or off."""
    semi_auto = request.POST.get("semi_auto") in ("on", "true", "1")
    set_order_mode(user=request.user, semi_auto=semi_auto, ip=audit.client_ip(request))
    text = ("Semi-auto on: orders now wait here for your approval." if semi_auto
            else "Semi-auto off: orders are placed at once.")
    if _htmx(request):
        return render(request, "orders/partials/order_mode_switch.html", {"semi_auto": semi_auto, "notice": text})
    messages.success(request, text)
    return redirect("orders:action_center")
