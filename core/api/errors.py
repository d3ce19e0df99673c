"""The one place where exceptions become the contract's error bodies (spec §2.5-2.7)."""

from __future__ import annotations

import logging
from enum import Enum

from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.errors import ServiceError

log = logging.getLogger("core.api")

UNEXPECTED = "An unexpected error occurred"
METHOD_NOT_ALLOWED = "The method is not allowed for the requested URL."
RATE_LIMITED = "Rate limit exceeded. Please slow down your requests."


class ErrorStyle(Enum):
    """How an endpoint reports field errors (spec §2.5)."""

    REPR = "V-A"  # message: str(field -> messages)
    MAPPING = "V-B"  # message: field -> messages
    OPTIONS = "V-C"  # message: fixed text, errors: field -> messages


class ApiValidationError(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, errors: dict, style: ErrorStyle, text: str = "Validation error") -> None:
        super().__init__("Validation error")
        self.errors = _plain(errors)
        self.style = style
        self.text = text


class RateLimited(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, retry_after: int) -> None:
        super().__init__(RATE_LIMITED)
        self.retry_after = retry_after


class InvalidApiKey(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_detail = "Invalid openalgo apikey"


def _plain(value):
    """DRF's ErrorDetail strings repr as ErrorDetail(...); the contract wants plain text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def error_body(message, **extra) -> dict:
    return {"status": "error", "message": message, **extra}


def validation_body(exc: ApiValidationError, extra: dict) -> dict:
    if exc.style is ErrorStyle.REPR:
        return error_body(repr(exc.errors), **extra)
    if exc.style is ErrorStyle.OPTIONS:
        return error_body(exc.text, errors=exc.errors, **extra)
    return error_body(exc.errors, **extra)


def service_error_body(exc: ServiceError, extra: dict, failure_text: str | None = None, where: str = "API") -> dict:
    """A service's or broker's failure in the spec's shape: rejections carry the broker's text
    (and the order id when one was recorded); unexpected failures a generic text, logged here."""
    if exc.http_status >= 500 and exc.http_status != 501:
        log.error("Broker call failed in %s: %s", where, exc.message)
        message = failure_text or UNEXPECTED
    else:
        message = exc.message
    body = error_body(message, **extra)
    if exc.orderid:
        body = {"status": "error", "orderid": exc.orderid, "message": message, **extra}
    if exc.retry_after is not None:
        body["retry_after"] = max(1, round(exc.retry_after))
    return body


def broker_error_response(exc: ServiceError, extra: dict, view=None) -> Response:
    body = service_error_body(exc, extra, getattr(view, "broker_failure_text", None),
                              type(view).__name__ if view else "API")
    return Response(body, status=exc.http_status)


def exception_handler(exc: Exception, context: dict) -> Response:
    view = context.get("view")
    extra = view.response_extra() if hasattr(view, "response_extra") else {}
    if isinstance(exc, ApiValidationError):
        return Response(validation_body(exc, extra), status=400)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response({"message": METHOD_NOT_ALLOWED}, status=405)
    if isinstance(exc, (exceptions.AuthenticationFailed, exceptions.NotAuthenticated, InvalidApiKey)):
        code = getattr(view, "invalid_key_status", 403)
        return Response(error_body("Invalid openalgo apikey"), status=code)
    if isinstance(exc, RateLimited):
        return Response(error_body(RATE_LIMITED, retry_after=exc.retry_after), status=429)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("Request body too large"), status=413)
    if isinstance(exc, exceptions.APIException):
        return Response(error_body(str(exc.detail), **extra), status=exc.status_code)
    if isinstance(exc, ServiceError):
        return broker_error_response(exc, extra, view)
    log.exception("Unhandled error in %s", type(view).__name__ if view else "API")
    return Response(error_body(UNEXPECTED), status=500)
