"""The GTT endpoints (spec §5.9): thin views over orders/gtt.py, answered by the paper
exchange in analyze mode like every order endpoint."""

from __future__ import annotations

from typing import ClassVar

from rest_framework.response import Response

from brokers.gtt import GttPriceUnavailable, GttTrigger
from core.api.errors import ErrorStyle
from core.values import IST
from orders import gtt, gtt_serializers
from orders.api import AccountView


def _shown_time(moment) -> str:
    return moment.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _number(value):
    """Prices as JSON numbers with at most 2 decimals (spec §2.8): 1480 stays 1480."""
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def trigger_json(trigger: GttTrigger) -> dict:
    return {
        "trigger_id": trigger.trigger_id, "trigger_type": trigger.trigger_type, "status": str(trigger.status),
        "symbol": trigger.symbol, "exchange": str(trigger.exchange),
        "trigger_prices": sorted(_number(price) for price in trigger.trigger_prices),
        "last_price": _number(trigger.last_price),
        "legs": [{"action": str(leg.action), "quantity": int(leg.quantity) if leg.quantity == int(leg.quantity)
                  else float(leg.quantity), "price": _number(leg.price), "pricetype": str(leg.pricetype),
                  "product": str(leg.product)} for leg in trigger.legs],
        "created_at": _shown_time(trigger.created_at), "updated_at": _shown_time(trigger.updated_at),
        "expires_at": _shown_time(trigger.expires_at),
    }


class GttView(AccountView):
    """Semi-auto refusals of GTT changes use the reference's own texts, not the order ones."""

    semi_auto_refusal: ClassVar[str] = ""
    error_statuses = {**AccountView.error_statuses, 404: "Trigger not found"}

    def answer(self, request, user, data) -> Response:
        if self.semi_auto_refusal and user.order_mode == user.OrderMode.SEMI_AUTO and not user.analyze_mode:
            return Response({"status": "error", "message": self.semi_auto_refusal}, status=403)
        return super().answer(request, user, data)

    def handle(self, request, user, data) -> Response:
        try:
            trigger_id = self.act(user, data)
        except GttPriceUnavailable as exc:  # its own text: the generic 5xx text would hide what failed
            return Response({"status": "error", "message": exc.message}, status=exc.http_status)
        return Response({"status": "success", "trigger_id": trigger_id})


class PlaceGttOrderView(GttView):
    endpoint = "placegttorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = gtt_serializers.PlaceGttInput
    semi_auto = "queue"
    broker_failure_text = "Failed to place GTT due to internal error"
    error_statuses = {**GttView.error_statuses, 502: "Last price unavailable"}

    def act(self, user, data) -> str:
        return gtt.place_gtt(user=user, request=gtt.gtt_request(data))


class ModifyGttOrderView(GttView):
    endpoint = "modifygttorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = gtt_serializers.ModifyGttInput
    semi_auto_refusal = "Modify GTT order is not allowed in Semi-Auto mode. Switch to Auto mode."
    broker_failure_text = "Failed to modify GTT due to internal error"
    error_statuses = {**GttView.error_statuses, 502: "Last price unavailable"}

    def act(self, user, data) -> str:
        return gtt.modify_gtt(user=user, trigger_id=data["trigger_id"], request=gtt.gtt_request(data))


class CancelGttOrderView(GttView):
    endpoint = "cancelgttorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = gtt_serializers.CancelGttInput
    semi_auto_refusal = "Cancel GTT order is not allowed in Semi-Auto mode. Switch to Auto mode."
    broker_failure_text = "Failed to cancel GTT due to internal error"

    def act(self, user, data) -> str:
        return gtt.cancel_gtt(user=user, trigger_id=data["trigger_id"])


class GttOrderBookView(AccountView):
    endpoint = "gttorderbook"
    error_style = ErrorStyle.MAPPING
    input_serializer = gtt_serializers.GttBookInput

    def handle(self, request, user, data) -> Response:
        return Response({"status": "success", "data": [trigger_json(t) for t in gtt.gtt_book(user=user)]})
