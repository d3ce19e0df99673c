"""The orders and account API (spec §5, §6, §10.2-10.3): thin views, one service call each."""

from __future__ import annotations

from typing import ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from accounts.apikeys import user_for_key
from core.api.errors import ErrorStyle
from core.api.views import OpenAlgoView
from orders import serializers, services
from orders.routing import pin_modes
from orders.services import OrderPath


class AccountView(OpenAlgoView):
    """Order and account endpoints: answered by the paper engine in analyze mode, with
    ``"mode":"analyze"`` on every response, errors included (spec §2.4, §2.9). An order
    endpoint names its ``order_path`` and the service runs the whole path; an account
    endpoint defines ``handle``."""

    error_style = ErrorStyle.REPR
    order_path: ClassVar[OrderPath | None] = None
    # Order-creating endpoints honour Idempotency-Key / client_order_id (read by the schema too).
    idempotent: ClassVar[bool] = False
    error_statuses = {501: "The broker does not offer this"}

    def _user(self):
        if not hasattr(self, "_resolved_user"):
            data = getattr(self.request, "data", None)
            key = data.get("apikey") if isinstance(data, dict) else None
            user = user_for_key(key) if key else None
            self._resolved_user = pin_modes(user) if user is not None else None
        return self._resolved_user

    def response_extra(self) -> dict:
        user = self._user()
        return {"mode": "analyze"} if user is not None and user.analyze_mode else {}

    def post(self, request: Request, *args, **kwargs) -> Response:
        data = self.validated(request)
        # The modes as the database has them now, for the whole request (orders/routing.py).
        user = pin_modes(self.authenticated(request))
        self._resolved_user = user
        if self.order_path is None:
            return self.answer(request, user, data)
        key = data.pop("client_order_id", None) if self.idempotent else None
        key = request.headers.get("Idempotency-Key") or key if self.idempotent else None
        outcome = services.submit_order_request(
            user=user, path=self.order_path, data={k: v for k, v in data.items() if k != "apikey"},
            idempotency_key=key)
        self._logged = True  # the service keeps the analyzer log of what it answers
        return Response(outcome.body, status=outcome.status, headers=dict(outcome.headers) or None)

    def answer(self, request, user, data) -> Response:
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
        services.record_analyzed(user=user, endpoint=self.endpoint, request=data, response=response.data)


# --- §5 Orders -------------------------------------------------------------------------------


class PlaceOrderView(AccountView):
    endpoint = "placeorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = serializers.PlaceOrderInput
    order_path = OrderPath.PLACE
    idempotent = True


class PlaceSmartOrderView(AccountView):
    endpoint = "placesmartorder"
    rate_limit = "SMART_ORDER_RATE_LIMIT"
    input_serializer = serializers.SmartOrderInput
    order_path = OrderPath.SMART
    idempotent = True


class BasketOrderView(AccountView):
    endpoint = "basketorder"
    input_serializer = serializers.BasketOrderInput
    order_path = OrderPath.BASKET
    idempotent = True


class SplitOrderView(AccountView):
    endpoint = "splitorder"
    input_serializer = serializers.SplitOrderInput
    order_path = OrderPath.SPLIT
    idempotent = True


class ModifyOrderView(AccountView):
    endpoint = "modifyorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = serializers.ModifyOrderInput
    error_statuses = {**AccountView.error_statuses, 404: "Order not found"}
    order_path = OrderPath.MODIFY


class CancelOrderView(AccountView):
    endpoint = "cancelorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = serializers.CancelOrderInput
    error_statuses = {**AccountView.error_statuses, 404: "Order not found"}
    order_path = OrderPath.CANCEL


class CancelAllOrderView(AccountView):
    endpoint = "cancelallorder"
    input_serializer = serializers.AccountWideInput
    order_path = OrderPath.CANCEL_ALL


class ClosePositionView(AccountView):
    endpoint = "closeposition"
    input_serializer = serializers.AccountWideInput
    order_path = OrderPath.CLOSE
