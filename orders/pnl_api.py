"""``POST /api/v1/pnl/symbols`` (spec §10.8): the paper position book's P&L per symbol, the
same figures as the My P&L page (orders/paper.py), served only in analyze mode."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response

from core.api.views import OpenAlgoView
from orders import paper
from orders.routing import pin_modes
from orders.serializers import ApiKeyOnlyInput

LIVE_MODE = "This endpoint is only available in sandbox/analyzer mode"


class PnlSymbolRow(serializers.Serializer):
    symbol = serializers.CharField()
    exchange = serializers.CharField()
    product = serializers.CharField()
    quantity = serializers.FloatField(help_text="An integer except on CRYPTO")
    pnl = serializers.FloatField(help_text="Realised since the last reset plus unrealised")
    unrealized_pnl = serializers.FloatField()
    today_realized_pnl = serializers.FloatField()
    total_pnl_today = serializers.FloatField(help_text="Realised today plus unrealised")


class PnlSymbolsOutput(serializers.Serializer):
    status = serializers.CharField(help_text='"success"')
    data = PnlSymbolRow(many=True)
    total_pnl = serializers.FloatField()
    total_unrealized_pnl = serializers.FloatField()
    total_today_realized_pnl = serializers.FloatField()
    total_pnl_today = serializers.FloatField()
    mode = serializers.CharField(help_text='Always "analyze": the endpoint answers only in analyze mode')


class PnlSymbolsView(OpenAlgoView):
    """Paper P&L per symbol (analyze mode only; in live mode 400 with the reason)."""

    endpoint = "pnl/symbols"
    input_serializer = ApiKeyOnlyInput
    response_serializer = PnlSymbolsOutput
    schema_tag = "utilities"

    def handle(self, request, user, data) -> Response:
        user = pin_modes(user)  # the mode as the database has it now, not as a cached key saw it
        if not user.analyze_mode:
            return Response({"status": "error", "message": LIVE_MODE}, status=400)
        return Response(paper.pnl_symbols_body(paper.paper_pnl(user)))
