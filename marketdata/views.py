"""The Market pages: a quote with a live candlestick chart (its history and preferences
served to the page's script), symbol search, and the option chain. They use the same
functions as the API's quotes, history, search and optionchain, so page and API agree."""

from __future__ import annotations

import json
from datetime import timedelta

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import setup_first
from accounts.otp import verified_login_required
from brokers import options
from brokers.base import BrokerError
from brokers.enums import Exchange
from brokers.selectors import expiries, search_instruments
from brokers.symbols import derivative_exchange, format_master_expiry
from marketdata.chart_prefs import PreferenceError, chart_preferences, save_chart_preferences
from marketdata.data_api import candle_json, data_adapter, history_candles, known, quote_json, unknown_symbol
from marketdata.options_api import option_chain
from marketdata.symbols_api import data_broker, instrument_json

# The chart's intervals and how far back each loads (calendar days).
CHART_INTERVALS = {"1m": 3, "5m": 10, "15m": 20, "1h": 60, "D": 365}
CHART_TYPES = ("candles", "line")
PAGE_PREFERENCES = {"interval": CHART_INTERVALS, "chart_type": CHART_TYPES}
UNDERLYING_EXCHANGES = ("NSE_INDEX", "NSE", "BSE_INDEX", "BSE", "MCX", "CDS")
SEARCH_LIMIT = 25
DEFAULT_STRIKES = 10


def _exchange(text: str) -> Exchange | None:
    return Exchange(text) if text in Exchange.__members__ else None


def _page_preferences(user) -> dict:
    """The stored preferences the quote page understands; anything else is left to the API."""
    stored = chart_preferences(user)
    return {key: stored[key] for key, allowed in PAGE_PREFERENCES.items() if stored.get(key) in allowed}


@setup_first
@verified_login_required
@require_GET
def quote_page(request: HttpRequest) -> HttpResponse:
    symbol = request.GET.get("symbol", "").strip().upper()
    exchange_text = request.GET.get("exchange", "NSE").strip().upper()
    context: dict = {"symbol": symbol, "exchange": exchange_text, "exchanges": [e.value for e in Exchange],
                     "intervals": list(CHART_INTERVALS), "chart_types": CHART_TYPES,
                     "preferences": {"interval": "1m", "chart_type": "candles", **_page_preferences(request.user)}}
    if not symbol:
        return render(request, "marketdata/quote.html", context)
    exchange = _exchange(exchange_text)
    if exchange is None:
        context["error"] = f"Unknown exchange '{exchange_text}'. Choose one of the listed exchanges."
        return render(request, "marketdata/quote.html", context, status=400)
    adapter = data_adapter(request.user)
    if not known(adapter, symbol, exchange_text):
        context["error"] = unknown_symbol(symbol, exchange_text)
        return render(request, "marketdata/quote.html", context, status=400)
    context["found"] = True
    try:
        context["quote"] = quote_json(adapter.quote(symbol, exchange))
    except BrokerError as exc:
        context["quote_error"] = f"No quote from {adapter.name} right now: {exc.message}"
    if "quote" in context:
        quote = context["quote"]
        change = round(quote["ltp"] - quote["prev_close"], 2) if quote["prev_close"] else 0
        percent = round(change * 100 / quote["prev_close"], 2) if quote["prev_close"] else 0
        context.update(change=change, change_percent=percent)
    return render(request, "marketdata/quote.html", context)


@verified_login_required
@require_GET
def quote_search(request: HttpRequest) -> HttpResponse:
    """The search box's results: the API's search, as links to the quote page."""
    query = (request.GET.get("q") or request.GET.get("symbol") or "").strip()
    exchange = request.GET.get("exchange", "").strip().upper()
    rows: list[dict] = []
    if query:
        found = search_instruments(broker=data_broker(request.user), query=query,
                                   exchange=exchange if _exchange(exchange) else None)
        rows = [instrument_json(row) for row in found[:SEARCH_LIMIT]]
    return render(request, "marketdata/partials/search_results.html", {"query": query, "rows": rows})


@verified_login_required
@require_GET
def quote_history(request: HttpRequest) -> JsonResponse:
    """The chart's candles, from the history service the API's /history uses."""
    symbol = request.GET.get("symbol", "").strip().upper()
    exchange_text = request.GET.get("exchange", "").strip().upper()
    interval = request.GET.get("interval", "1m")
    exchange = _exchange(exchange_text)
    if not symbol or exchange is None:
        return JsonResponse({"status": "error", "message": "Give a symbol and a valid exchange."}, status=400)
    if interval not in CHART_INTERVALS:
        return JsonResponse({"status": "error", "message": "Interval must be one of: "
                             + ", ".join(CHART_INTERVALS) + "."}, status=400)
    adapter = data_adapter(request.user)
    if not known(adapter, symbol, exchange_text):
        return JsonResponse({"status": "error", "message": unknown_symbol(symbol, exchange_text)}, status=400)
    if interval not in adapter.capabilities.intervals:
        return JsonResponse({"status": "error", "message": f"{adapter.name} has no {interval} candles."}, status=400)
    end = timezone.localdate()
    start = end - timedelta(days=CHART_INTERVALS[interval])
    try:
        candles = history_candles(adapter, symbol, exchange, interval, start, end)
    except BrokerError as exc:
        return JsonResponse({"status": "error", "message": f"No history from {adapter.name}: {exc.message}"},
                            status=502)
    return JsonResponse({"status": "success", "interval": interval, "data": [candle_json(c) for c in candles]})


@never_cache
@verified_login_required
@require_http_methods(["GET", "POST"])
def chart_preferences_page(request: HttpRequest) -> JsonResponse:
    """The quote page's preferences (interval, chart type) in the store /api/v1/chart serves."""
    if request.method == "GET":
        return JsonResponse({"status": "success", "data": _page_preferences(request.user)})
    try:
        wanted = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"status": "error", "message": "The body must be a JSON object."}, status=400)
    if not isinstance(wanted, dict) or not wanted:
        return JsonResponse({"status": "error", "message": "No preferences provided to update"}, status=400)
    for key, value in wanted.items():
        allowed = PAGE_PREFERENCES.get(key)
        if allowed is None:
            return JsonResponse({"status": "error", "message": f"Unknown chart preference '{key}'."}, status=400)
        if value not in allowed:
            return JsonResponse({"status": "error", "message": f"{key} must be one of: "
                                 + ", ".join(allowed) + "."}, status=400)
    try:
        save_chart_preferences(user=request.user, preferences=wanted)
    except PreferenceError as exc:
        return JsonResponse({"status": "error", "message": exc.message}, status=400)
    return JsonResponse({"status": "success", "data": _page_preferences(request.user)})


def _chain_request(request: HttpRequest) -> dict:
    """The option chain's form: underlying, its exchange, the expiry (the nearest when none)
    and the strikes each side of ATM, with the expiries to choose from."""
    underlying = request.GET.get("underlying", "NIFTY").strip().upper()
    exchange_text = request.GET.get("exchange", "NSE_INDEX").strip().upper()
    form: dict = {"underlying": underlying, "exchange": exchange_text, "expiry": request.GET.get("expiry", ""),
                  "strikes": DEFAULT_STRIKES, "expiries": [], "exchanges": UNDERLYING_EXCHANGES}
    try:
        form["strikes"] = max(1, min(int(request.GET.get("strikes", DEFAULT_STRIKES)), 50))
    except ValueError:
        form["error"] = "Strikes each side must be a whole number."
        return form
    exchange = _exchange(exchange_text)
    if not underlying or exchange is None:
        form["error"] = "Choose an underlying and its exchange."
        return form
    base = options.EMBEDDED.match(underlying)
    name = base.group(1) if base else underlying
    today = timezone.localdate()
    listed = [day for day in expiries(broker=data_broker(request.user), exchange=str(derivative_exchange(exchange)),
                                      name=name, kind="options") if day >= today]
    form["expiries"] = [format_master_expiry(day) for day in listed]
    if not listed:
        form["error"] = f"No option expiries found for {name} on {derivative_exchange(exchange)}."
    elif not form["expiry"]:
        form["expiry"] = form["expiries"][0]
    return form


def _with_chain(request: HttpRequest, form: dict) -> dict:
    context = {"form": form}
    if "error" in form:
        return context
    try:
        context["options_exchange"] = str(derivative_exchange(Exchange(form["exchange"])))
        context["chain"] = option_chain(request.user, underlying=form["underlying"],
                                        exchange=Exchange(form["exchange"]), expiry_date=form["expiry"],
                                        strike_count=form["strikes"], with_greeks=True)
    except options.ResolutionError as exc:
        form["error"] = exc.message
    except BrokerError as exc:
        form["error"] = f"No prices right now: {exc.message}"
    return context


@setup_first
@verified_login_required
@require_GET
def optionchain_page(request: HttpRequest) -> HttpResponse:
    form = _chain_request(request)
    context = _with_chain(request, form)
    status = 400 if "error" in form and request.GET else 200
    return render(request, "marketdata/optionchain.html", context, status=status)


@verified_login_required
@require_GET
def optionchain_rows(request: HttpRequest) -> HttpResponse:
    """The chain's table alone, re-fetched every few seconds for fresh IV and greeks."""
    context = _with_chain(request, _chain_request(request))
    return render(request, "marketdata/partials/optionchain_table.html", context)
