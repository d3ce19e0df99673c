"""Market-data endpoints (spec §7.1-7.4, §7.6): quotes, multiquotes, depth, history and
ticker, from the user's current data source through the broker contract. Analyze mode
does not change the source (§7)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers as drf
from rest_framework.response import Response

from accounts.brokers import adapter_for
from brokers.base import BatchQuotesAdapter, BrokerAdapter, BrokerError, Candle, batch_quotes_adapter
from brokers.enums import INTERVALS, Exchange
from brokers.selectors import find_instrument
from core.api.serializers import ApiKeyField, EnumField, StrictSerializer, StringField
from core.api.views import OpenAlgoView
from marketdata.candles import CALENDAR_INTERVALS, IST, calendar_bars, ist_date, utc_midnight
from marketdata.models import StoredCandle
from orders.presenters import money


def unknown_symbol(symbol: str, exchange: str) -> str:
    return (f"Symbol '{symbol}' not found for exchange '{exchange}'. Please verify the symbol name and ensure "
            "master contracts are downloaded.")


def data_adapter(user):
    return adapter_for(user, analyze_mode=False, for_orders=False)


def known(adapter, symbol: str, exchange: str) -> bool:
    return find_instrument(broker=adapter.name, exchange=exchange, symbol=symbol) is not None


def quote_json(quote) -> dict:
    return {"open": money(quote.open), "high": money(quote.high), "low": money(quote.low), "ltp": money(quote.ltp),
            "ask": money(quote.ask), "bid": money(quote.bid), "prev_close": money(quote.prev_close),
            "volume": int(quote.volume), "oi": int(quote.oi)}


class QuoteInput(StrictSerializer):
    apikey = ApiKeyField()
    symbol = StringField(min_length=1)
    exchange = EnumField(Exchange)


class QuotesView(OpenAlgoView):
    endpoint = "quotes"
    input_serializer = QuoteInput
    broker_failure_text = "Failed to fetch quotes"

    def handle(self, request, user, data) -> Response:
        symbol, exchange = data["symbol"], str(data["exchange"])
        adapter = data_adapter(user)
        if not known(adapter, symbol, exchange):
            return Response({"status": "error", "message": unknown_symbol(symbol, exchange)}, status=400)
        return Response({"status": "success", "data": quote_json(adapter.quote(symbol, data["exchange"]))})


class MultiQuotesInput(StrictSerializer):
    class Item(StrictSerializer):
        symbol = StringField(min_length=1)
        exchange = EnumField(Exchange)

    apikey = ApiKeyField()
    symbols = drf.ListField(child=Item(), min_length=1, error_messages={
        "required": "Missing data for required field.", "null": "Field may not be null.",
        "not_a_list": "Not a valid list.", "min_length": "Shorter than minimum length 1."})


class MultiQuotesView(OpenAlgoView):
    endpoint = "multiquotes"
    input_serializer = MultiQuotesInput

    def handle(self, request, user, data) -> Response:
        adapter = data_adapter(user)
        invalid, wanted = [], []
        for item in data["symbols"]:
            symbol, exchange = item["symbol"], str(item["exchange"])
            if not known(adapter, symbol, exchange):
                invalid.append({"symbol": symbol, "exchange": exchange, "error": unknown_symbol(symbol, exchange)})
            else:
                wanted.append((symbol, item["exchange"]))
        batch = batch_quotes_adapter(adapter)
        results = self._batched(batch, adapter.capabilities.batch_quotes, wanted) if batch else [
            self._one(adapter, symbol, exchange) for symbol, exchange in wanted]
        if not results:
            return Response({"status": "error", "message": invalid[0]["error"], "invalid_symbols": invalid},
                            status=400)
        return Response({"status": "success", "results": invalid + results})


    @staticmethod
    def _one(adapter: BrokerAdapter, symbol: str, exchange: Exchange) -> dict:
        try:
            return {"symbol": symbol, "exchange": str(exchange), "data": quote_json(adapter.quote(symbol, exchange))}
        except BrokerError as exc:
            return {"symbol": symbol, "exchange": str(exchange), "error": exc.message}

    @staticmethod
    def _batched(batch: BatchQuotesAdapter, size: int, wanted: list[tuple[str, Exchange]]) -> list[dict]:
        """The broker's batch call, ``size`` instruments at a time, answers in request order."""
        results = []
        for start in range(0, len(wanted), size):
            chunk = wanted[start:start + size]
            try:
                quotes = batch.quotes(chunk)
            except BrokerError as exc:
                results += [{"symbol": s, "exchange": str(e), "error": exc.message} for s, e in chunk]
                continue
            for symbol, exchange in chunk:
                quote = quotes.get((symbol, exchange))
                results.append({"symbol": symbol, "exchange": str(exchange), "data": quote_json(quote)}
                               if quote is not None else
                               {"symbol": symbol, "exchange": str(exchange), "error": "No quote data available"})
        return results


class DepthView(OpenAlgoView):
    endpoint = "depth"
    input_serializer = QuoteInput
    broker_failure_text = "Failed to fetch market depth"

    def handle(self, request, user, data) -> Response:
        symbol, exchange = data["symbol"], str(data["exchange"])
        adapter = data_adapter(user)
        if not known(adapter, symbol, exchange):
            return Response({"status": "error", "message": unknown_symbol(symbol, exchange)}, status=400)
        depth = adapter.depth(symbol, data["exchange"])

        def side(levels) -> list[dict]:
            rows = [{"price": money(level.price), "quantity": int(level.quantity)} for level in levels[:5]]
            return rows + [{"price": 0, "quantity": 0}] * (5 - len(rows))

        body = {key: value for key, value in quote_json(depth.quote).items() if key not in ("ask", "bid")}
        body.update({"ltq": 0, "totalbuyqty": depth.total_buy_qty, "totalsellqty": depth.total_sell_qty,
                     "asks": side(depth.asks), "bids": side(depth.bids)})
        return Response({"status": "success", "data": body})


class HistoryInput(StrictSerializer):
    apikey = ApiKeyField()
    symbol = StringField(min_length=1)
    exchange = EnumField(Exchange)
    interval = drf.ChoiceField(
        choices=list(INTERVALS), error_messages={"invalid_choice": "Must be one of: " + ", ".join(INTERVALS) + ".",
                                                 "required": "Missing data for required field.",
                                                 "null": "Field may not be null."})
    start_date = drf.DateField(input_formats=["%Y-%m-%d"], error_messages={
        "invalid": "Not a valid date.", "required": "Missing data for required field."})
    end_date = drf.DateField(input_formats=["%Y-%m-%d"], error_messages={
        "invalid": "Not a valid date.", "required": "Missing data for required field."})
    source = drf.ChoiceField(choices=["api", "db"], default="api", error_messages={
        "invalid_choice": "Must be one of: api, db."})

    def validate(self, attrs: dict) -> dict:
        if attrs["end_date"] < attrs["start_date"]:
            raise drf.ValidationError({"end_date": ["End date must not be before the start date."]})
        return attrs


def history_candles(adapter, symbol: str, exchange: Exchange, interval: str, start: date, end: date) -> list[Candle]:
    """Candles from the source, calendar intervals built from daily bars, stamped per §7.4."""
    if interval in CALENDAR_INTERVALS:
        daily = adapter.history(symbol, exchange, "D", start, end)
        if interval == "D":
            return [Candle(timestamp=utc_midnight(ist_date(c.timestamp)), open=c.open, high=c.high, low=c.low,
                           close=c.close, volume=c.volume, oi=c.oi) for c in daily]
        return calendar_bars(daily, interval)
    return adapter.history(symbol, exchange, interval, start, end)


def candle_json(c: Candle) -> dict:
    return {"timestamp": int(c.timestamp), "open": money(c.open), "high": money(c.high), "low": money(c.low),
            "close": money(c.close), "volume": int(c.volume), "oi": int(c.oi)}


def store(source: str, symbol: str, exchange: str, interval: str, candles: list[Candle]) -> None:
    rows = [StoredCandle(exchange=exchange, symbol=symbol, interval=interval, timestamp=c.timestamp, open=c.open,
                         high=c.high, low=c.low, close=c.close, volume=c.volume, oi=c.oi, source=source)
            for c in candles]
    # MySQL's upsert (ON DUPLICATE KEY UPDATE) takes no conflict target: it fires on any unique
    # key, here only one_candle's (the id is new), so it is the same upsert.
    unique_fields = (["exchange", "symbol", "interval", "timestamp"]
                     if connection.features.supports_update_conflicts_with_target else None)
    with transaction.atomic():
        StoredCandle.objects.bulk_create(
            rows, batch_size=1000, update_conflicts=True, unique_fields=unique_fields,
            update_fields=["open", "high", "low", "close", "volume", "oi", "source"])


def stored(symbol: str, exchange: str, interval: str, start: date, end: date) -> list[Candle]:
    first = utc_midnight(start) - 6 * 3600
    last = utc_midnight(end + timedelta(days=1))
    rows = StoredCandle.objects.filter(exchange=exchange, symbol=symbol, interval=interval,
                                       timestamp__gte=first, timestamp__lt=last).order_by("timestamp")
    return [Candle(timestamp=r.timestamp, open=r.open, high=r.high, low=r.low, close=r.close, volume=r.volume,
                   oi=r.oi) for r in rows]


class HistoryView(OpenAlgoView):
    endpoint = "history"
    input_serializer = HistoryInput
    error_statuses = {404: "No stored data (source=db)", 501: "The broker does not offer this interval"}

    def handle(self, request, user, data) -> Response:
        symbol, exchange, interval = data["symbol"], str(data["exchange"]), data["interval"]
        start, end = data["start_date"], data["end_date"]
        if data["source"] == "db":
            candles = stored(symbol, exchange, interval, start, end)
            if not candles:
                return Response({"status": "error", "message": f"No data found for {symbol}:{exchange} interval "
                                 f"{interval} in local database. Fetch it with source 'api' first."}, status=404)
            return Response({"status": "success", "data": [candle_json(c) for c in candles]})
        adapter = data_adapter(user)
        if not known(adapter, symbol, exchange):
            return Response({"status": "error", "message": unknown_symbol(symbol, exchange)}, status=400)
        if interval not in adapter.capabilities.intervals:
            return Response({"status": "error", "message": f"Unsupported timeframe: {interval}"}, status=500)
        candles = history_candles(adapter, symbol, data["exchange"], interval, start, end)
        if candles:
            store(adapter.name, symbol, exchange, interval, candles)
        return Response({"status": "success", "data": [candle_json(c) for c in candles]})


class TickerView(OpenAlgoView):
    """GET /ticker/EXCHANGE:SYMBOL?apikey=…&interval=D&from=…&to=…&format=json|txt"""

    endpoint = "ticker"
    http_method_names = ["get", "head", "options"]  # spec §2.2: a GET endpoint; POST → 405
    error_statuses = {501: "The broker does not offer this interval"}
    other_media_types = {200: ("text/plain",), 400: ("text/plain",)}
    query_parameters = (
        OpenApiParameter("apikey", str, description="The key (or the X-API-KEY header)"),
        OpenApiParameter("interval", str, enum=list(INTERVALS), description="Default D"),
        OpenApiParameter("from", OpenApiTypes.DATE, required=True),
        OpenApiParameter("to", OpenApiTypes.DATE, required=True),
        OpenApiParameter("format", str, enum=["json", "txt"], description="json (default) or txt (CSV lines)"),
    )

    class TickerInput(StrictSerializer):
        apikey = ApiKeyField()
        interval = drf.ChoiceField(choices=list(INTERVALS), default="D", error_messages={
            "invalid_choice": "Must be one of: " + ", ".join(INTERVALS) + "."})
        to = drf.DateField(input_formats=["%Y-%m-%d"], error_messages={"required": "Missing data for required field."})
        format = drf.ChoiceField(choices=["json", "txt"], default="json")

        def to_internal_value(self, data):
            if not isinstance(data, Mapping):
                return super().to_internal_value(data)  # DRF's "Invalid data" error
            data = dict(data)
            if "from" in data:
                data["from_"] = data.pop("from")
            return super().to_internal_value(data)

    TickerInput._declared_fields["from_"] = drf.DateField(
        input_formats=["%Y-%m-%d"], error_messages={"required": "Missing data for required field."})
    input_serializer = TickerInput

    def get(self, request, ticker: str = "", *args, **kwargs):
        data = self.validated(request)
        user = self.authenticated(request)
        txt = data["format"] == "txt"
        exchange_code, sep, symbol = ticker.partition(":")
        if not sep or not symbol or exchange_code not in Exchange.__members__:
            return self._error("Ticker must look like EXCHANGE:SYMBOL", 400, txt)
        interval, start, end = data["interval"], data["from_"], data["to"]
        floor = end - timedelta(days=3650 if interval in CALENDAR_INTERVALS else 30)
        start = max(start, floor)
        adapter = data_adapter(user)
        if not known(adapter, symbol, exchange_code):
            return self._error(unknown_symbol(symbol, exchange_code), 400, txt)
        candles = history_candles(adapter, symbol, Exchange(exchange_code), interval, start, end)
        if not txt:
            return Response({"status": "success", "data": [candle_json(c) for c in candles]})
        lines = []
        for c in candles:
            if interval in CALENDAR_INTERVALS:  # stamped 00:00 UTC of their IST date
                when = datetime.fromtimestamp(c.timestamp, UTC).date().isoformat()
            else:
                moment = datetime.fromtimestamp(c.timestamp, IST)
                when = f"{moment:%Y-%m-%d},{moment:%H:%M:%S}"
            lines.append(f"{ticker},{when},{money(c.open)},{money(c.high)},{money(c.low)},{money(c.close)},"
                         f"{int(c.volume)}")
        return HttpResponse("\n".join(lines) + ("\n" if lines else ""), content_type="text/plain")

    @staticmethod
    def _error(message: str, status: int, txt: bool):
        if txt:
            return HttpResponse(message, status=status, content_type="text/plain")
        return Response({"status": "error", "message": message}, status=status)
