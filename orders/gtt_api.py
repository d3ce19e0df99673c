"""The GTT endpoints (spec §5.9): the three writes are order paths run by orders.services
(semi-auto, analyze mode and the analyzer log included); the book is a read."""

from __future__ import annotations

from rest_framework.response import Response

from brokers.gtt import GttTrigger
from core.api.errors import ErrorStyle
from core.values import IST
from orders import gtt, gtt_serializers
from orders.api import AccountView
from orders.services import OrderPath


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


NOT_FOUND = {**AccountView.error_statuses, 404: "Trigger not found"}


class PlaceGttOrderView(AccountView):
    endpoint = "placegttorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = gtt_serializers.PlaceGttInput
    order_path = OrderPath.PLACE_GTT
    error_statuses = {**NOT_FOUND, 502: "Last price unavailable"}


class ModifyGttOrderView(AccountView):
    endpoint = "modifygttorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = gtt_serializers.ModifyGttInput
    order_path = OrderPath.MODIFY_GTT
    error_statuses = {**NOT_FOUND, 502: "Last price unavailable"}


class CancelGttOrderView(AccountView):
    endpoint = "cancelgttorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = gtt_serializers.CancelGttInput
    order_path = OrderPath.CANCEL_GTT
    error_statuses = NOT_FOUND


class GttOrderBookView(AccountView):
    endpoint = "gttorderbook"
    error_style = ErrorStyle.MAPPING
    input_serializer = gtt_serializers.GttBookInput

    def handle(self, request, user, data) -> Response:
        return Response({"status": "success", "data": [trigger_json(t) for t in gtt.gtt_book(user=user)]})
