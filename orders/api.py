"""The orders and account API (spec §5, §6, §10.2-10.3): thin views, one service call each."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from rest_framework.response import Response

from accounts.apikeys import user_for_key
from brokers.base import BrokerError, ModifyRequest, OrderRequest
from core.api.errors import ErrorStyle, broker_error_response
from core.api.views import OpenAlgoView
from core.values import json_safe
from orders import actioncenter, idempotency, serializers, services
from orders.models import AnalyzerLog


def order_request(data: dict, strategy: str = "") -> OrderRequest:
    return OrderRequest(
        symbol=data["symbol"], exchange=data["exchange"], action=data["action"],
        quantity=Decimal(data["quantity"]), product=data["product"], pricetype=data["pricetype"],
        price=data["price"], trigger_price=data["trigger_price"],
        disclosed_quantity=data["disclosed_quantity"], strategy=data.get("strategy", strategy),
    )


class AccountView(OpenAlgoView):
    """Order and account endpoints: answered by the paper engine in analyze mode, with
    ``"mode":"analyze"`` on every response, errors included (spec §2.4, §2.9)."""

    error_style = ErrorStyle.REPR
    # Semi-auto (spec §2.10): "queue" the request, or "refuse" it with this operation name.
    semi_auto: ClassVar[str] = ""
    semi_auto_operation: ClassVar[str] = ""
    # Order-creating endpoints honour Idempotency-Key / client_order_id (orders/idempotency.py).
    idempotent: ClassVar[bool] = False
    error_statuses = {501: "The broker does not offer this"}

    def _user(self):
        if not hasattr(self, "_resolved_user"):
            data = getattr(self.request, "data", None)
            key = data.get("apikey") if isinstance(data, dict) else None
            self._resolved_user = user_for_key(key) if key else None
        return self._resolved_user

    def response_extra(self) -> dict:
        user = self._user()
        return {"mode": "analyze"} if user is not None and user.analyze_mode else {}

    def post(self, request, *args, **kwargs) -> Response:
        data = self.validated(request)
        user = self.authenticated(request)
        self._resolved_user = user
        key = data.pop("client_order_id", None) if self.idempotent else None
        key = request.headers.get("Idempotency-Key") or key if self.idempotent else None
        if not key:
            return self.answer(request, user, data)
        try:
            record = idempotency.claim(user=user, key=key, endpoint=self.endpoint, data=data)
        except idempotency.Replay as replay:
            return Response(replay.body, status=replay.status)
        try:
            response = self.answer(request, user, data)
        except BrokerError as exc:
            response = broker_error_response(exc, self.response_extra(), self)
        except Exception:
            idempotency.forget_in_progress(record)
            raise
        idempotency.complete(record, response.status_code, dict(response.data))
        return response

    def answer(self, request, user, data) -> Response:
        if user.order_mode == user.OrderMode.SEMI_AUTO:
            if self.semi_auto == "queue":
                pending = actioncenter.queue(user=user, endpoint=self.endpoint, data=data)
                return Response({"status": "success", "message": "Order queued for approval in Action Center",
                                 "mode": "semi_auto", "pending_order_id": pending.pk})
            if self.semi_auto == "refuse" and not user.analyze_mode:
                what = self.semi_auto_operation
                return Response({"status": "error", "message": f"{what.capitalize()} operation is not allowed in "
                                 f"Semi-Auto mode. Please switch to Auto mode to {what}."}, status=403)
        response = self.handle(request, user, data)
        if user.analyze_mode:
            response.data.update(self.response_extra())
            self._log(user, data, response)
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        user = getattr(self, "_resolved_user", None)
        if user is not None and user.analyze_mode and response.status_code != 200 and isinstance(response.data, dict):
            try:
                body = request.data if isinstance(request.data, dict) else {}
            except Exception:  # an unparsable body: log the answer without it
                body = {}
            self._log(user, body, response)
        return super().finalize_response(request, response, *args, **kwargs)

    def _log(self, user, data: dict, response: Response) -> None:
        if getattr(self, "_logged", False):
            return
        self._logged = True
        shown = {k: str(v) if not isinstance(v, (list, dict, int, float, bool, str)) else v
                 for k, v in (data or {}).items() if k != "apikey"}
        AnalyzerLog.objects.create(user=user, endpoint=self.endpoint, request=json_safe(shown),
                                   response=json_safe(dict(response.data)))


# --- §5 Orders -------------------------------------------------------------------------------


class PlaceOrderView(AccountView):
    endpoint = "placeorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = serializers.PlaceOrderInput
    semi_auto = "queue"
    idempotent = True
    broker_failure_text = services.PLACE_FAILED

    def handle(self, request, user, data) -> Response:
        placed = services.place_order(user=user, request=order_request(data))
        return Response({"status": "success", "orderid": placed.orderid})


class PlaceSmartOrderView(AccountView):
    endpoint = "placesmartorder"
    rate_limit = "SMART_ORDER_RATE_LIMIT"
    input_serializer = serializers.SmartOrderInput
    semi_auto = "queue"
    idempotent = True
    broker_failure_text = services.PLACE_FAILED

    def handle(self, request, user, data) -> Response:
        result = services.place_smart_order(user=user, request=order_request(data),
                                            position_size=Decimal(data["position_size"]))
        if result.placed is None:
            return Response({"status": "success", "message": result.message})
        return Response({"status": "success", "orderid": result.placed.orderid})


class BasketOrderView(AccountView):
    endpoint = "basketorder"
    input_serializer = serializers.BasketOrderInput
    semi_auto = "queue"
    idempotent = True

    def handle(self, request, user, data) -> Response:
        requests = [order_request(item, data["strategy"]) for item in data["orders"]]
        return Response({"status": "success", "results": services.place_basket(user=user, requests=requests)})


class SplitOrderView(AccountView):
    endpoint = "splitorder"
    input_serializer = serializers.SplitOrderInput
    semi_auto = "queue"
    idempotent = True

    def handle(self, request, user, data) -> Response:
        total, size = int(data["quantity"]), data["splitsize"]
        if len(services.split_sizes(total, size)) > services.SPLIT_CAP:
            return Response({"status": "error", "message": "Total number of orders would exceed maximum limit "
                             f"of {services.SPLIT_CAP}", **self.response_extra()}, status=400)
        results = services.place_split(user=user, request=order_request(data), splitsize=size)
        return Response({"status": "success", "total_quantity": total, "split_size": size, "results": results})


class ModifyOrderView(AccountView):
    endpoint = "modifyorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = serializers.ModifyOrderInput
    error_statuses = {**AccountView.error_statuses, 404: "Order not found"}
    semi_auto, semi_auto_operation = "refuse", "modify order"

    def handle(self, request, user, data) -> Response:
        change = ModifyRequest(
            orderid=data["orderid"], symbol=data["symbol"], exchange=data["exchange"], action=data["action"],
            product=data["product"], pricetype=data["pricetype"], quantity=Decimal(data["quantity"]),
            price=data["price"], trigger_price=data["trigger_price"],
            disclosed_quantity=data["disclosed_quantity"], strategy=data["strategy"],
        )
        placed = services.modify_order(user=user, request=change)
        body = {"status": "success", "orderid": placed.orderid}
        if placed.message:
            body["message"] = placed.message
        return Response(body)


class CancelOrderView(AccountView):
    endpoint = "cancelorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = serializers.CancelOrderInput
    error_statuses = {**AccountView.error_statuses, 404: "Order not found"}
    semi_auto, semi_auto_operation = "refuse", "cancel order"

    def handle(self, request, user, data) -> Response:
        placed = services.cancel_order(user=user, orderid=data["orderid"])
        body = {"status": "success", "orderid": placed.orderid}
        if placed.message:
            body["message"] = placed.message
        return Response(body)


class CancelAllOrderView(AccountView):
    endpoint = "cancelallorder"
    input_serializer = serializers.AccountWideInput
    semi_auto, semi_auto_operation = "refuse", "cancel all orders"

    def handle(self, request, user, data) -> Response:
        cancelled, failed = services.cancel_all_orders(user=user)
        if not cancelled and not failed:
            message = "No open orders to cancel"
        else:
            message = f"Canceled {len(cancelled)} orders. Failed to cancel {len(failed)} orders."
        return Response({"status": "success", "message": message, "canceled_orders": cancelled,
                         "failed_cancellations": failed})


class ClosePositionView(AccountView):
    endpoint = "closeposition"
    input_serializer = serializers.AccountWideInput
    semi_auto, semi_auto_operation = "refuse", "close position"

    def handle(self, request, user, data) -> Response:
        closed, failed = services.close_all_positions(user=user)
        if not user.analyze_mode and not services.is_sandbox(services.adapter_for(user)):
            return Response({"status": "success", "message": "All Open Positions Squared Off"})
        if not closed and not failed:
            return Response({"status": "success", "message": "No open positions to close"})
        return Response({"status": "success", "message": f"Closed {closed} positions", "closed_positions": closed,
                         "failed_closures": failed})
