"""Middleware of our own: WhiteNoise made async-capable, the Content-Security-Policy of
the pages (django-csp plus per-path extras) and the security headers of the /api/ stack.

WhiteNoise's middleware is sync-only; one sync-only middleware in the stack makes
Django hop between the event loop and threads several times per request under daphne.
Static lookups are a dict get, so only a static hit goes to a thread (to open the file)."""

from __future__ import annotations

from asgiref.sync import markcoroutinefunction, sync_to_async
from csp.middleware import CSPMiddleware, PolicyParts
from whitenoise.middleware import WhiteNoiseMiddleware

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
