"""GET|POST /chart (spec §10.9): the key's user's chart preferences, read whole or upserted
a few keys at a time. Unlike the other endpoints POST takes any keys besides ``apikey``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers as drf
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.serializers import ApiKeyField, StrictSerializer
from core.api.views import OpenAlgoView
from marketdata.chart_prefs import chart_preferences, save_chart_preferences

MISSING_KEY = "Missing apikey parameter"


class ChartInput(StrictSerializer):
    """Documents the body: ``apikey`` plus up to 50 preference keys (≤ 50 characters each)
    whose values are any JSON up to 1 MiB serialised. Not used to validate (keys are free)."""

    apikey = ApiKeyField()


class ChartView(OpenAlgoView):
    """GET ?apikey=: every stored preference. POST {"apikey", <key>: <any JSON>, ...}: upserts
    up to 50 keys (key ≤ 50 characters, value ≤ 1 MiB serialised), all or none."""

    endpoint = "chart"
    input_serializer = ChartInput
    response_serializer = inline_serializer(name="ChartOutput", fields={
        "status": drf.CharField(help_text="\"success\""),
        "data": drf.DictField(required=False, help_text="GET: preference key -> stored JSON value"),
        "message": drf.CharField(required=False, help_text="POST: what was stored"),
    })
    query_parameters = (OpenApiParameter("apikey", str, description="The key (or the X-API-KEY header)"),)

    def get(self, request: Request, *args, **kwargs) -> Response:
        data = self.request_data(request)
        if not isinstance(data, dict) or not data.get("apikey"):
            return Response({"status": "error", "message": MISSING_KEY}, status=400)
        user = self.authenticated(request)
        return Response({"status": "success", "data": chart_preferences(user)})

    def post(self, request: Request, *args, **kwargs) -> Response:
        data = self.request_data(request)
        if not isinstance(data, dict):
            return Response({"status": "error", "message": "The body must be a JSON object"}, status=400)
        if not data.get("apikey"):
            return Response({"status": "error", "message": MISSING_KEY}, status=400)
        user = self.authenticated(request)
        preferences = {key: value for key, value in data.items() if key != "apikey"}
        save_chart_preferences(user=user, preferences=preferences)  # a PreferenceError answers 400
        return Response({"status": "success", "message": f"Updated {len(preferences)} chart preference(s)"})
