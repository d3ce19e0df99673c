"""Body parsing for /api/v1: JSON whatever the Content-Type says, with a size cap."""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "Request body too large"
    default_code = "request_too_large"


class LenientJSONParser(BaseParser):
    """TradingView, Excel and AFL clients post JSON as text/plain; accept any type."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge()
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError("Invalid JSON body") from exc
