"""Symbol and calendar endpoints (spec §7.5, §8, §10.4-10.5), served from the master
contract of the user's current data source (the sandbox's when no broker is live)."""

from __future__ import annotations

import csv
import io
from datetime import date

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers as drf
from rest_framework.response import Response

from accounts.brokers import active_broker_name, adapter_for
from brokers import calendar
from brokers.enums import DERIVATIVE_EXCHANGES, INTERVALS, Exchange
from brokers.selectors import expiries, find_instrument, instruments, search_instruments
from brokers.symbols import format_master_expiry
from core.api.serializers import ApiKeyField, EnumField, IntegerField, StrictSerializer, StringField
from core.api.views import OpenAlgoView

ROW_FIELDS = ("symbol", "brsymbol", "name", "exchange", "brexchange", "token", "expiry", "strike", "lotsize",
              "instrumenttype", "tick_size")


def data_broker(user) -> str:
    return active_broker_name(user)


def instrument_json(row: dict, *, with_id: bool = False, with_freeze: bool = True) -> dict:
    data = {
        "symbol": row["symbol"], "brsymbol": row["brsymbol"], "name": row["name"], "exchange": row["exchange"],
        "brexchange": row["brexchange"], "token": row["token"],
        "expiry": format_master_expiry(row["expiry"]) if row["expiry"] else "",
        "strike": float(row["strike"] or 0), "lotsize": int(row["lotsize"]),
        "instrumenttype": row["instrumenttype"], "tick_size": float(row["tick_size"]),
    }
    if with_freeze:
        data["freeze_qty"] = int(row["freeze_qty"])
    if with_id:
        data = {"id": row["id"], **data}
    return data


class SymbolView(OpenAlgoView):
    endpoint = "symbol"
    error_statuses = {404: "Symbol not found"}

    class SymbolInput(StrictSerializer):
        apikey = ApiKeyField()
        symbol = StringField(min_length=1)
        exchange = EnumField(Exchange)

    input_serializer = SymbolInput

    def handle(self, request, user, data) -> Response:
        info = find_instrument(broker=data_broker(user), exchange=str(data["exchange"]), symbol=data["symbol"])
        if info is None:
            return Response({"status": "error", "message": f"Symbol {data['symbol']} not found in exchange "
                                                           f"{data['exchange']}"}, status=404)
        return Response({"status": "success", "data": instrument_json(_as_dict(info), with_id=True)})


def _as_dict(info) -> dict:
    return {name: getattr(info, name) for name in info.__dataclass_fields__}


class SearchView(OpenAlgoView):
    endpoint = "search"

    class SearchInput(StrictSerializer):
        apikey = ApiKeyField()
        query = StringField()
        exchange = EnumField(Exchange, required=False)

    input_serializer = SearchInput

    def handle(self, request, user, data) -> Response:
        if not data["query"].strip():
            return Response({"status": "error", "message": "Query parameter is required and cannot be empty"},
                            status=400)
        exchange = str(data["exchange"]) if data.get("exchange") else None
        rows = search_instruments(broker=data_broker(user), query=data["query"], exchange=exchange)
        found = [instrument_json(row) for row in rows]
        if not found:
            return Response({"status": "success", "message": "No matching symbols found", "data": []})
        return Response({"status": "success", "message": f"Found {len(found)} matching symbols", "data": found})


class ExpiryView(OpenAlgoView):
    endpoint = "expiry"

    class ExpiryInput(StrictSerializer):
        apikey = ApiKeyField()
        symbol = StringField(min_length=1)
        exchange = EnumField(Exchange, choices=[e for e in Exchange if e in DERIVATIVE_EXCHANGES])
        instrumenttype = drf.ChoiceField(choices=["futures", "options"], error_messages={
            "invalid_choice": "Must be one of: futures, options.", "required": "Missing data for required field.",
            "null": "Field may not be null."})

    input_serializer = ExpiryInput

    def handle(self, request, user, data) -> Response:
        kind, symbol, exchange = data["instrumenttype"], data["symbol"], str(data["exchange"])
        today = timezone.localdate()
        dates = [d for d in expiries(broker=data_broker(user), exchange=exchange, name=symbol, kind=kind)
                 if d >= today]
        label = f"{symbol} {kind} in {exchange}"
        if not dates:
            return Response({"status": "success", "message": f"No expiry dates found for {label}", "data": []})
        return Response({"status": "success", "message": f"Found {len(dates)} expiry dates for {label}",
                         "data": [format_master_expiry(d) for d in dates]})


class InstrumentsView(OpenAlgoView):
    """GET: the whole master contract (or one exchange's), as JSON or streamed CSV."""

    endpoint = "instruments"
    invalid_key_status = 401
    http_method_names = ["get", "head", "options"]  # spec §2.2: a GET endpoint; POST → 405
    other_media_types = {200: ("text/csv",)}
    query_parameters = (
        OpenApiParameter("apikey", str, description="The key (or the X-API-KEY header); none → 401"),
        OpenApiParameter("exchange", str, enum=[e.value for e in Exchange], description="None → every exchange"),
        OpenApiParameter("format", str, enum=["json", "csv"], description="json (default) or csv"),
    )

    class InstrumentsInput(StrictSerializer):
        apikey = ApiKeyField(required=False)
        exchange = EnumField(Exchange, required=False)
        format = drf.ChoiceField(choices=["json", "csv"], required=False, error_messages={
            "invalid_choice": "Must be one of: json, csv."})

    input_serializer = InstrumentsInput

    def get(self, request, *args, **kwargs):
        data = self.validated(request)
        if not data.get("apikey"):
            return Response({"status": "error", "message": "API key is required"}, status=401)
        user = self.authenticated(request)
        rows = instruments(broker=data_broker(user)).order_by("exchange", "symbol")
        exchange = str(data["exchange"]) if data.get("exchange") else None
        if exchange:
            rows = rows.filter(exchange=exchange)
        values = rows.values(*ROW_FIELDS)
        if data.get("format") == "csv":
            return self._csv(values.iterator(chunk_size=5000), exchange or "all")
        found = [instrument_json(row, with_freeze=False) for row in values]
        if not found:
            return Response({"status": "success", "message": "No instruments found", "data": []})
        return Response({"status": "success", "message": f"Found {len(found)} instruments", "data": found})

    def post(self, request, *args, **kwargs):
        return self.get(request, *args, **kwargs)

    @staticmethod
    def _csv(rows, label: str) -> StreamingHttpResponse:
        def lines():
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(ROW_FIELDS)
            for number, row in enumerate(rows, start=1):
                item = instrument_json(row, with_freeze=False)
                writer.writerow([item[name] for name in ROW_FIELDS])
                if number % 1000 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        response["Content-Disposition"] = f"attachment; filename=instruments_{label}.csv"
        return response


class IntervalsView(OpenAlgoView):
    endpoint = "intervals"

    class IntervalsInput(StrictSerializer):
        apikey = ApiKeyField()

    input_serializer = IntervalsInput

    def handle(self, request, user, data) -> Response:
        adapter = adapter_for(user, analyze_mode=False, for_orders=False)
        supported = [i for i in INTERVALS if i in adapter.capabilities.intervals]
        groups = {"seconds": "s", "minutes": "m", "hours": "h"}
        body = {key: [i for i in supported if i.endswith(suffix)] for key, suffix in groups.items()}
        body.update({"days": [i for i in supported if i == "D"], "weeks": [i for i in supported if i == "W"],
                     "months": [i for i in supported if i in ("M", "Q", "Y")]})
        return Response({"status": "success", "data": body})


class HolidaysView(OpenAlgoView):
    endpoint = "market/holidays"

    class HolidaysInput(StrictSerializer):
        apikey = ApiKeyField()
        year = IntegerField(min_value=2020, min_message="Year must be between 2020 and 2050", required=False)

    input_serializer = HolidaysInput

    def handle(self, request, user, data) -> Response:
        year = data.get("year") or timezone.localdate().year
        if year > 2050:
            return Response({"status": "error", "message": {"year": ["Year must be between 2020 and 2050"]}},
                            status=400)
        try:
            rows = calendar.holidays(year)
        except calendar.CalendarUnavailable as exc:
            return Response({"status": "error", "message": str(exc)}, status=400)
        return Response({"status": "success", "year": year, "timezone": "Asia/Kolkata", "data": rows})


class TimingsView(OpenAlgoView):
    endpoint = "market/timings"

    class TimingsInput(StrictSerializer):
        apikey = ApiKeyField()
        date = StringField(min_length=1)

    input_serializer = TimingsInput

    def handle(self, request, user, data) -> Response:
        try:
            day = date.fromisoformat(data["date"].strip())
        except ValueError:
            return Response({"status": "error", "message": "Invalid date format. Use YYYY-MM-DD"}, status=400)
        if not date(2020, 1, 1) <= day <= date(2050, 12, 31):
            return Response({"status": "error", "message": "Date must be between 2020-01-01 and 2050-12-31"},
                            status=400)
        try:
            rows = calendar.timings(day)
        except calendar.CalendarUnavailable as exc:
            return Response({"status": "error", "message": str(exc)}, status=400)
        return Response({"status": "success", "data": rows})

