"""Option Greeks endpoints (spec §9.5, §9.6)."""

from __future__ import annotations

from datetime import time

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers as drf
from rest_framework.response import Response

from brokers.enums import DERIVATIVE_EXCHANGES, Exchange
from core.api.errors import ErrorStyle
from core.api.serializers import ApiKeyField, EnumField, NumberField, StrictSerializer, StringField
from core.api.views import OpenAlgoView
from marketdata.data_api import data_adapter
from marketdata.greeks import GreeksError, GreeksRequest, option_greeks

FO = [e for e in Exchange if e in DERIVATIVE_EXCHANGES]


class ExpiryTimeField(StringField):
    def to_internal_value(self, data) -> time:
        text = super().to_internal_value(data)
        try:
            hours, minutes = (int(part) for part in text.split(":"))
            return time(hours, minutes)
        except ValueError:
            raise drf.ValidationError("Expiry time must be HH:MM") from None


class RateField(NumberField):
    def __init__(self, **kwargs) -> None:
        super().__init__(min_value=0, min_message="Interest rate must be between 0 and 100.", **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value > 100:
            raise drf.ValidationError("Interest rate must be between 0 and 100.")
        return value


class OptionGreeksInput(StrictSerializer):
    apikey = ApiKeyField()
    symbol = StringField(min_length=1)
    exchange = EnumField(Exchange, choices=FO)
    interest_rate = RateField(required=False)
    forward_price = NumberField(min_value=0, min_message="Forward price must be non-negative.", required=False)
    underlying_symbol = StringField(required=False)
    underlying_exchange = EnumField(Exchange, required=False)
    expiry_time = ExpiryTimeField(required=False)


def _request(item: dict, shared: dict) -> GreeksRequest:
    return GreeksRequest(
        symbol=item["symbol"], exchange=item["exchange"],
        interest_rate=float(shared.get("interest_rate") or 0),
        forward_price=float(item["forward_price"]) if item.get("forward_price") else None,
        underlying_symbol=item.get("underlying_symbol") or None,
        underlying_exchange=item.get("underlying_exchange"), expiry_time=shared.get("expiry_time"),
    )


class OptionGreeksView(OpenAlgoView):
    endpoint = "optiongreeks"
    rate_limit = "GREEKS_RATE_LIMIT"
    input_serializer = OptionGreeksInput
    error_style = ErrorStyle.OPTIONS
    error_statuses = {404: "No price for the option or its underlying"}
    validation_text = "Validation failed"
    invalid_key_status = 401

    def handle(self, request, user, data) -> Response:
        try:
            return Response(option_greeks(data_adapter(user), _request(data, data)))
        except GreeksError as exc:
            return Response({"status": "error", "message": exc.message}, status=exc.status)


class GreeksItem(StrictSerializer):
    symbol = StringField(min_length=1)
    exchange = EnumField(Exchange, choices=FO)
    underlying_symbol = StringField(required=False)
    underlying_exchange = EnumField(Exchange, required=False)


class MultiOptionGreeksInput(StrictSerializer):
    apikey = ApiKeyField()
    symbols = drf.ListField(child=GreeksItem(), error_messages={
        "required": "Missing data for required field.", "not_a_list": "Not a valid list.",
        "null": "Field may not be null."})
    interest_rate = RateField(required=False)
    expiry_time = ExpiryTimeField(required=False)

    def validate_symbols(self, value):
        if not 1 <= len(value) <= 50:
            raise drf.ValidationError("Symbols must contain 1 to 50 items.")
        return value


class MultiOptionGreeksView(OpenAlgoView):
    endpoint = "multioptiongreeks"
    input_serializer = MultiOptionGreeksInput
    error_style = ErrorStyle.OPTIONS
    # Spec §9.6: HTTP 200 whether all, some or none of the items succeeded.
    response_serializer = inline_serializer(name="MultiOptionGreeksOutput", fields={
        "status": drf.ChoiceField(choices=["success", "partial", "error"]),
        "data": drf.ListField(child=drf.DictField(), help_text="One optiongreeks body or item error each"),
        "summary": drf.DictField(child=drf.IntegerField()),
        "message": drf.CharField(required=False),
    })
    validation_text = "Validation failed"
    invalid_key_status = 401

    def handle(self, request, user, data) -> Response:
        adapter = data_adapter(user)
        results, failures = [], []
        for item in data["symbols"]:
            try:
                results.append(option_greeks(adapter, _request(item, data)))
            except GreeksError as exc:
                failure = {"status": "error", "symbol": item["symbol"], "exchange": str(item["exchange"]),
                           "message": exc.message}
                results.append(failure)
                failures.append(f"{item['symbol']}: {exc.message}")
        total, failed = len(results), len(failures)
        status = "success" if not failed else "error" if failed == total else "partial"
        body = {"status": status, "data": results,
                "summary": {"total": total, "success": total - failed, "failed": failed}}
        if failed:
            body["message"] = f"{failed} option Greeks calculation(s) failed: " + "; ".join(failures[:5])
        return Response(body)
