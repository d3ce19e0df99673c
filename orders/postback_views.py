"""The broker postback endpoint: a broker's HTTP callback when an order moves. No session
and no CSRF token (the broker is not a browser): the payload's signature is its proof."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders.postbacks import PostbackRefused, receive_postback

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def broker_postback(request: HttpRequest, broker: str) -> JsonResponse:
    """200 taken; 404 unknown broker; 403 unsigned or not ours; 400 unreadable; 503 when we
    could not record a verified order (the broker retries), never a 500 page."""
    try:
        receive_postback(broker=broker, body=request.body, headers=request.headers)
    except PostbackRefused as refused:
        log.info("Postback of broker %s refused (%s): %s", broker, refused.http_status, refused)
        return JsonResponse({"status": "error", "message": str(refused)}, status=refused.http_status)
    except Exception:
        log.exception("Postback of broker %s verified but not recorded", broker)
        return JsonResponse({"status": "error", "message": "Not recorded, please retry"}, status=503)
    return JsonResponse({"status": "success"})
