"""/api/v1/telegram/notify (spec §10.6) and /api/v1/telegram/webhook (§11.1): the first
queues a message for a linked user, the second hands Telegram's updates to a worker. No
call to Telegram is made here: both answer from the queue."""

from __future__ import annotations

import hmac
import logging

from rest_framework import serializers as drf
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.apikeys import user_for_key
from core.api.keys import key_from_request
from core.api.views import OpenAlgoView
from strategies.telegram import services, tasks

log = logging.getLogger(__name__)

INVALID_KEY = "Invalid or missing API key"
REQUIRED = "Username and message are required"
NOT_LINKED = "User not found or not linked to Telegram"
STOPPED = "Telegram bot is stopped. Start the bot to send notifications."
FAILED = "Failed to send notification"
TOO_LONG = f"Message must be at most {services.MAX_MESSAGE} characters"
DELIVERY_SECONDS = 20.0
TRUE = {"true", "1", "yes", "on"}


def _error(message: str, status: int) -> Response:
    return Response({"status": "error", "message": message}, status=status)


def _priority(value: object) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 5
    return number if 1 <= number <= 10 else 5


def _flag(value: object) -> bool:
    return value is True or (isinstance(value, (str, int)) and str(value).strip().lower() in TRUE)


class NotifyInput(drf.Serializer):
    """For the API docs: the view reads the body itself, to answer with §10.6's texts."""

    apikey = drf.CharField(help_text="Or the X-API-KEY header")
    username = drf.CharField(help_text="The OpenAlgo login username linked with the bot's /link")
    message = drf.CharField(max_length=services.MAX_MESSAGE, help_text="Markdown allowed")
    priority = drf.IntegerField(required=False, default=5, help_text="1..10 (out of range: 5)")
    wait_for_delivery = drf.BooleanField(required=False, default=False)


class UpdateInput(drf.Serializer):
    """A Telegram Update (https://core.telegram.org/bots/api#update)."""

    update_id = drf.IntegerField()
    message = drf.DictField(required=False)


class TelegramNotifyView(OpenAlgoView):
    endpoint = "telegram/notify"
    input_serializer = NotifyInput
    rate_limit = "TELEGRAM_RATE_LIMIT"
    authentication_classes: list = []
    invalid_key_status = 401
    error_statuses = {401: INVALID_KEY, 404: NOT_LINKED, 409: STOPPED}

    def post(self, request: Request, *args, **kwargs) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        presented = key_from_request(request)
        owner = user_for_key(presented) if isinstance(presented, str) and presented else None
        if owner is None:
            return _error(INVALID_KEY, 401)
        username, message = data.get("username"), data.get("message")
        if not isinstance(username, str) or not username.strip() or not isinstance(message, str) or not message.strip():
            return _error(REQUIRED, 400)
        if len(message) > services.MAX_MESSAGE:
            return _error(TOO_LONG, 400)
        # A key speaks for its own account: another user's chat is not found (an admin's key may reach anyone).
        link = services.link_by_username(username.strip())
        if link is None or (link.user_id != owner.pk and not owner.is_superuser):
            return _error(NOT_LINKED, 404)
        if not services.active():
            return _error(STOPPED, 409)
        priority = _priority(data.get("priority", 5))
        wait = _flag(data.get("wait_for_delivery", False))
        try:
            result = tasks.send_message.apply_async((link.chat_id, message, True), priority=priority,
                                                    ignore_result=not wait)
        except Exception:
            log.exception("Telegram notification could not be queued")
            return _error(FAILED, 500)
        if not wait:
            return Response({"status": "success", "message": "Notification queued for delivery"})
        try:
            result.get(timeout=DELIVERY_SECONDS)
        except Exception as exc:
            log.warning("Telegram notification to %s not delivered: %s", username, exc)
            return _error(FAILED, 500)
        return Response({"status": "success", "message": "Notification sent successfully"})


class TelegramWebhookView(OpenAlgoView):
    """Telegram's updates, authenticated by the secret given in setWebhook: 401 without the
    header, 403 with a wrong one, an empty 200 once the update is queued."""

    endpoint = "telegram/webhook"
    input_serializer = UpdateInput
    rate_limit = "WEBHOOK_RATE_LIMIT"
    authentication_classes: list = []
    error_statuses = {401: "Missing secret token", 403: "Wrong secret token"}

    def post(self, request: Request, *args, **kwargs) -> Response:
        presented = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        if not presented:
            return _error("Missing secret token", 401)
        secret = services.webhook_secret()
        if not secret or not hmac.compare_digest(presented.encode(), secret.encode()):
            return _error("Wrong secret token", 403)
        if isinstance(request.data, dict) and "update_id" in request.data:
            try:
                tasks.process_update.delay(dict(request.data))
            except Exception:  # Telegram delivers again on a non-200: let it
                log.exception("Telegram update could not be queued")
                return Response(status=503)
        return Response(status=200)
