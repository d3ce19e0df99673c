"""Middleware of our own: WhiteNoise made async-capable, the Content-Security-Policy of
the pages (django-csp plus per-path extras), the security headers of the /api/ stack and
the API request log.

WhiteNoise's middleware is sync-only; one sync-only middleware in the stack makes
Django hop between the event loop and threads several times per request under daphne.
Static lookups are a dict get, so only a static hit goes to a thread (to open the file)."""

from __future__ import annotations

import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from csp.middleware import CSPMiddleware, PolicyParts
from django.utils import timezone
from django.utils.functional import LazyObject
from whitenoise.middleware import WhiteNoiseMiddleware

from accounts.request_log import Record, writer
from openalgo.logging import mask_secrets

logger = logging.getLogger(__name__)

# What a JSON answer may do once a browser renders it: nothing (no script, style, image,
# frame or form). An API response is data, never a document.
API_CONTENT_SECURITY_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    sync_capable = False
    async_capable = True

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (settings.CONTENT_SECURITY_POLICY, nonces for templates that
    use ``request.csp_nonce``) plus ``settings.CSP_PATH_UPDATES``: directives a page under
    a given path prefix needs beyond the site policy, e.g. data: images for the Swagger UI.
    A view's own @csp_update/@csp_replace still wins."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.update is None:
            from django.conf import settings

            path = request.path_info
            for prefix, update in getattr(settings, "CSP_PATH_UPDATES", {}).items():
                if path.startswith(prefix):
                    parts.update = update
                    break
        return parts


def _is_html(response) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


class ApiHeadersMiddleware:
    """The security headers of SecurityMiddleware, XFrameOptionsMiddleware and the CSP
    middleware for /api/, async-native: Django runs each sync middleware hook on a thread,
    and on a 2 ms API call those hops are a quarter of the time. The headers are computed
    once; a JSON answer gets the locked-down API policy. An HTML page under /api/ (the
    Swagger UI at /api/docs/) gets the site's policy, with the nonce its template used."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.headers = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                        "Referrer-Policy": settings.SECURE_REFERRER_POLICY or "same-origin",
                        "Cross-Origin-Opener-Policy": "same-origin"}
        self.hsts = getattr(settings, "SECURE_HSTS_SECONDS", 0)
        if self.hsts:
            self.hsts_value = f"max-age={self.hsts}"
            if getattr(settings, "SECURE_HSTS_INCLUDE_SUBDOMAINS", False):
                self.hsts_value += "; includeSubDomains"
            if getattr(settings, "SECURE_HSTS_PRELOAD", False):
                self.hsts_value += "; preload"
        # Its hooks are plain functions without I/O: called inline, no thread hop.
        self.page_policy = ContentSecurityPolicyMiddleware(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request):
        self.page_policy.process_request(request)  # a lazy nonce, made only if a template asks
        response = await self.get_response(request)
        if _is_html(response):
            self.page_policy.process_response(request, response)
        else:
            response.headers.setdefault("Content-Security-Policy", API_CONTENT_SECURITY_POLICY)
        for name, value in self.headers.items():
            response.headers.setdefault(name, value)
        if self.hsts and request.is_secure():
            response.headers.setdefault("Strict-Transport-Security", self.hsts_value)
        return response


class ApiRequestLogMiddleware:
    """Records each /api/v1/ call for the monitoring pages (accounts/request_log.py): status,
    time, the key's user and broker, and the body with every secret masked twice (by field
    name, then by the log masker's patterns). The request pays a perf_counter pair and a
    queue append, and no query (the async stack runs it on the event loop); the broker
    lookup, the masking and the database write happen in batches on another thread. Async-native on
    the API stack, and sync under the test client's WSGI stack."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        body, started = _body_of(request), time.perf_counter()
        response = self.get_response(request)
        _record(request, response, body, started)
        return response

    async def _acall(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return await self.get_response(request)
        body, started = _body_of(request), time.perf_counter()
        response = await self.get_response(request)
        _record(request, response, body, started)
        return response


API_PREFIX = "/api/v1/"
BODY_KEPT = 64 * 1024  # bytes of a body queued for the log (a larger one is summarised as not JSON)


def _body_of(request) -> bytes:
    """The body, read now (Django keeps it for the view); a too-large one is not kept."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return b""
    try:
        return request.body
    except Exception:  # RequestDataTooBig and friends: the view answers it, we log no body
        return b""


def _record(request, response, body: bytes, started: float) -> None:
    latency_ms = (time.perf_counter() - started) * 1000
    try:
        # The API key's user, set by DRF's authentication. A lazy session user (the test
        # client's full stack) is not the caller of an API-key API: never evaluate it.
        user = request.__dict__.get("user")
        if isinstance(user, LazyObject):
            user = None
        user_id = user.pk if user is not None and getattr(user, "is_authenticated", False) else None
        endpoint = request.path_info[len(API_PREFIX):].strip("/") or "/"
        writer.submit(Record(at=timezone.now(), user_id=user_id, method=request.method, endpoint=endpoint,
                             status=response.status_code, latency_ms=latency_ms, broker="",
                             raw_body=body[:BODY_KEPT], mask=mask_secrets,
                             analyze=bool(getattr(user, "analyze_mode", False))))
    except Exception:  # the log must never break an answer
        logger.exception("API request log: a call could not be recorded")
