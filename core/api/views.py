"""The base of every /api/v1 view: rate limit, validate, then authenticate (spec §2.3:
a request both malformed and unauthenticated gets the 400), then one service call."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse
from django.template.response import SimpleTemplateResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import ratelimit
from core.api.errors import ApiValidationError, ErrorStyle, InvalidApiKey
from core.api.keys import key_from_request
from core.api.parsers import RequestTooLarge


class OpenAlgoView(APIView):
    input_serializer: ClassVar[type[serializers.Serializer]]
    error_style: ClassVar[ErrorStyle] = ErrorStyle.MAPPING
    validation_text: ClassVar[str] = "Validation error"
    rate_limit: ClassVar[str] = "API_RATE_LIMIT"
    invalid_key_status: ClassVar[int] = 403
    endpoint: ClassVar[str] = ""
    # For the OpenAPI schema (core/api/schema.py): statuses this endpoint answers besides
    # 200/400/403/429/500 and the invalid-key status (spec §2.6), media types of its answers
    # besides JSON, and the query string of a GET endpoint.
    error_statuses: ClassVar[dict[int, str]] = {}
    other_media_types: ClassVar[dict[int, tuple[str, ...]]] = {}
    query_parameters: ClassVar[tuple] = ()

    def initial(self, request: Request, *args, **kwargs) -> None:
        # DRF would authenticate here; the contract validates the body first.
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise RequestTooLarge()
        ratelimit.enforce(request._request, group=self.endpoint or type(self).__name__, setting=self.rate_limit)

    def response_extra(self) -> dict:
        """Keys every response of this view carries (analyze mode adds "mode")."""
        return {}

    def request_data(self, request: Request) -> object:
        """The body; a key given only as ?apikey= or X-API-KEY fills the body's field."""
        data = request.data if request.method not in ("GET", "HEAD") else request.query_params.dict()
        if isinstance(data, dict) and "apikey" not in data:
            presented = key_from_request(request)
            if presented is not None:
                data = {**data, "apikey": presented}
        return data

    def validated(self, request: Request) -> dict:
        serializer = self.input_serializer(data=self.request_data(request))
        if not serializer.is_valid():
            raise ApiValidationError(serializer.errors, self.error_style, self.validation_text)
        return serializer.validated_data

    def authenticated(self, request: Request):
        user = request.user  # runs ApiKeyAuthentication; a bad key raises AuthenticationFailed
        if user is None:
            raise InvalidApiKey()
        return user

    def dispatch(self, request, *args, **kwargs):
        """DRF's dispatch, then, under ASGI, the answer rendered on this same thread: Django's
        async handler would otherwise render a DRF Response (a SimpleTemplateResponse) in a
        sync_to_async hop of its own, one more thread round trip on every API call."""
        response = super().dispatch(request, *args, **kwargs)
        if isinstance(request, ASGIRequest) and isinstance(response, SimpleTemplateResponse):
            return _rendered(response)
        return response

    def post(self, request: Request, *args, **kwargs) -> Response:
        """Every endpoint defines ``handle(request, user, data)``: the one service call."""
        data = self.validated(request)
        user = self.authenticated(request)
        return self.handle(request, user, data)


def _rendered(response: SimpleTemplateResponse) -> HttpResponse:
    """``response`` rendered, as a plain HttpResponse with the same status, headers and cookies
    (no ``render`` left for the handler to call)."""
    response.render()
    plain = HttpResponse(response.content, status=response.status_code)
    plain.headers = response.headers
    plain.cookies = response.cookies
    if response._reason_phrase is not None:
        plain.reason_phrase = response.reason_phrase
    plain.data = getattr(response, "data", None)  # type: ignore[attr-defined]  # as DRF's Response has it
    return plain


async def bare_view(request) -> JsonResponse:
    """An async view that does nothing (served at /api/v1/bench/bare when BENCH_BARE_VIEW is
    on): the reference bench/hotpath.py measures the API's endpoints against."""
    return JsonResponse({"status": "success", "data": {"message": "bare"}})
