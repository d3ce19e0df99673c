"""Order information and account endpoints (spec §6, §10.2-10.3)."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers as drf
from rest_framework.response import Response

from accounts import services as account_services
from accounts.brokers import adapter_for
from brokers.base import CapabilityMissing, MarginLeg
from brokers.enums import Action, Exchange, PriceType, Product
from core.api.errors import ErrorStyle
from core.api.serializers import ApiKeyField, LenientBooleanField, StrictSerializer, parse_number
from orders import presenters, services
from orders.api import AccountView
from orders.models import AnalyzerLog
from orders.serializers import ApiKeyOnlyInput, OpenPositionInput, OrderStatusInput


def _paper(adapter) -> bool:
    return services.is_sandbox(adapter)


class OrderStatusView(AccountView):
    endpoint = "orderstatus"
    input_serializer = OrderStatusInput
    error_statuses = {**AccountView.error_statuses, 404: "Order not found"}

    def handle(self, request, user, data) -> Response:
        adapter = services.adapter_for(user)
        if hasattr(adapter, "order"):
            order = adapter.order(data["orderid"])
        else:  # a broker without a single-order call: look it up in today's book
            order = next((o for o in adapter.order_book() if o.orderid == data["orderid"]), None)
            if order is None:
                return Response({"status": "error", "message": f"Order {data['orderid']} not found"}, status=404)
        return Response({"status": "success", "data": presenters.order_status(order, _paper(adapter))})


class OpenPositionView(AccountView):
    endpoint = "openposition"
    input_serializer = OpenPositionInput

    def handle(self, request, user, data) -> Response:
        adapter = services.adapter_for(user)
        net = services.net_quantity(adapter, data["symbol"], data["exchange"], str(data["product"]))
        return Response({"status": "success", "quantity": presenters.qty(net, data["exchange"])})


class BookView(AccountView):
    error_style = ErrorStyle.MAPPING
    input_serializer = ApiKeyOnlyInput


class OrderBookView(BookView):
    endpoint = "orderbook"

    def handle(self, request, user, data) -> Response:
        adapter = services.adapter_for(user)
        return Response({"status": "success", "data": presenters.order_book(adapter.order_book(), _paper(adapter))})


class TradeBookView(BookView):
    endpoint = "tradebook"

    def handle(self, request, user, data) -> Response:
        adapter = services.adapter_for(user)
        paper = _paper(adapter)
        return Response({"status": "success", "data": [presenters.trade_row(t, paper) for t in adapter.trade_book()]})


class PositionBookView(BookView):
    endpoint = "positionbook"

    def handle(self, request, user, data) -> Response:
        adapter = services.adapter_for(user)
        rows, totals = presenters.position_book(adapter.positions(), _paper(adapter))
        return Response({"status": "success", "data": rows, **totals})


class HoldingsView(BookView):
    endpoint = "holdings"

    def handle(self, request, user, data) -> Response:
        adapter = services.adapter_for(user)
        return Response({"status": "success", "data": presenters.holdings(adapter.holdings(), _paper(adapter))})


class FundsView(BookView):
    endpoint = "funds"

    def handle(self, request, user, data) -> Response:
        return Response({"status": "success", "data": presenters.funds(services.adapter_for(user).funds())})


# --- §6.8 Margin -----------------------------------------------------------------------------------

class MarginInput(StrictSerializer):
    apikey = ApiKeyField()
    positions = drf.ListField(child=drf.DictField(), error_messages={
        "required": "Missing data for required field.", "null": "Field may not be null.",
        "not_a_list": "Not a valid list."})

    def validate_positions(self, value):
        if not 1 <= len(value) <= 50:
            raise drf.ValidationError("Positions must contain 1 to 50 items.")
        return value


_ITEM_FIELDS = {"symbol", "exchange", "action", "product", "pricetype", "quantity", "price", "trigger_price"}


def _choice(value, enum, label: str, number: int, fold: bool = False):
    text = value.upper() if fold and isinstance(value, str) else value
    if text not in [m.value for m in enum]:
        raise ValueError(f"Position {number}: Invalid {label}. Must be one of: "
                         + ", ".join(m.value for m in enum))
    return enum(text)


def margin_leg(item: dict, number: int) -> MarginLeg:
    unknown = sorted(set(item) - _ITEM_FIELDS)
    if unknown:
        raise ValueError(f"Position {number}: Unknown field {unknown[0]}")
    for name in ("symbol", "exchange", "action", "product", "pricetype", "quantity"):
        if item.get(name) in (None, ""):
            raise ValueError(f"Position {number}: Missing required field {name}")
    symbol = item["symbol"]
    if not isinstance(symbol, str) or not 1 <= len(symbol) <= 50:
        raise ValueError(f"Position {number}: Symbol must be a string of 1 to 50 characters")
    quantity = parse_number(item["quantity"])
    if quantity is None or quantity <= 0 or quantity != quantity.to_integral_value():
        raise ValueError(f"Position {number}: Quantity must be a positive integer")
    prices = {}
    for name in ("price", "trigger_price"):
        value = parse_number(item.get(name, "0"))
        if value is None or value < 0:
            raise ValueError(f"Position {number}: Invalid {name.replace('_', ' ')}")
        prices[name] = value
    return MarginLeg(
        symbol=symbol, exchange=_choice(item["exchange"], Exchange, "exchange", number),
        action=_choice(item["action"], Action, "action", number, fold=True),
        product=_choice(item["product"], Product, "product", number),
        pricetype=_choice(item["pricetype"], PriceType, "price type", number),
        quantity=Decimal(int(quantity)), **prices,
    )


class MarginView(AccountView):
    """Margin for a basket of positions, from the user's live broker (not the paper engine)."""

    endpoint = "margin"
    input_serializer = MarginInput

    def response_extra(self) -> dict:
        return {}

    def handle(self, request, user, data) -> Response:
        try:
            legs = [margin_leg(item, number) for number, item in enumerate(data["positions"], start=1)]
        except ValueError as exc:
            return Response({"status": "error", "message": str(exc)}, status=400)
        adapter = adapter_for(user, analyze_mode=False)
        if not adapter.capabilities.margin_calculator:
            raise CapabilityMissing(f"Margin calculator is not available for {adapter.name}")
        result = adapter.margin(legs)
        body = {"total_margin_required": presenters.money(result.total_margin_required)}
        if result.span_margin is not None:
            body["span_margin"] = presenters.money(result.span_margin)
        if result.exposure_margin is not None:
            body["exposure_margin"] = presenters.money(result.exposure_margin)
        response = Response({"status": "success", "data": body})
        return response


# --- §10.2-10.3 Analyzer ---------------------------------------------------------------------------

def analyzer_state(user) -> dict:
    return {"mode": "analyze" if user.analyze_mode else "live", "analyze_mode": bool(user.analyze_mode),
            "total_logs": AnalyzerLog.objects.filter(user=user).count()}


class AnalyzerView(AccountView):
    endpoint = "analyzer"
    input_serializer = ApiKeyOnlyInput

    def response_extra(self) -> dict:
        return {}

    def handle(self, request, user, data) -> Response:
        return Response({"status": "success", "data": analyzer_state(user)})


class AnalyzerToggleInput(StrictSerializer):
    apikey = ApiKeyField()
    mode = LenientBooleanField()


class AnalyzerToggleView(AccountView):
    endpoint = "analyzer/toggle"
    input_serializer = AnalyzerToggleInput
    semi_auto, semi_auto_operation = "refuse-always", "analyzer/toggle"

    def response_extra(self) -> dict:
        return {}

    def post(self, request, *args, **kwargs) -> Response:
        data = self.validated(request)
        user = self.authenticated(request)
        if user.order_mode == user.OrderMode.SEMI_AUTO:
            return Response({"status": "error", "message": "Operation analyzer/toggle is not allowed in Semi-Auto "
                             "mode. Switch to Auto mode in the dashboard first."}, status=403)
        account_services.set_analyze_mode(user=user, on=data["mode"])
        state = analyzer_state(user)
        state["message"] = f"Analyzer mode switched to {state['mode']}"
        return Response({"status": "success", "data": state})
