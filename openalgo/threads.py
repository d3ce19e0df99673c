"""Django's sync code under ASGI, on a fixed pool of long-lived threads.

Out of the box every request gets a brand-new thread (asgiref's per-request
ThreadSensitiveContext), so each request opens a new database connection and starts
and joins threads: most of a small API call's time. Here each request borrows one of
``WEB_THREADS`` single-thread executors for its whole life (so everything sync in it
still runs on one thread, as Django requires), and the threads, with their persistent
database connections, live as long as the process."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext


class PooledSyncThreads:
    """ASGI wrapper: HTTP requests run their sync parts on a borrowed long-lived thread."""

    def __init__(self, app, size: int) -> None:
        self.app = app
        self.size = max(1, size)
        self._free: asyncio.Queue | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _pool(self) -> asyncio.Queue:
        loop = asyncio.get_running_loop()
        if self._free is None or self._loop is not loop:
            self._loop = loop
            self._free = asyncio.Queue()
            for number in range(self.size):
                self._free.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"web-sync-{number}"))
        return self._free

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        free = self._pool()
        executor = await free.get()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.app(scope, receive, send)
        finally:
            free.put_nowait(executor)


API_MIDDLEWARE = ["openalgo.middleware.ApiRequestLogMiddleware", "openalgo.middleware.ApiHeadersMiddleware"]


def api_application():
    """A Django ASGI handler for /api/ with only the middleware an API-key API needs:
    no sessions, cookies, CSRF or messages (the contract is CSRF-exempt and key-authed).
    Each middleware is a thread hop under ASGI, so this halves a small call's cost."""
    from django.conf import settings
    from django.core.handlers.asgi import ASGIHandler

    class ApiHandler(ASGIHandler):
        def load_middleware(self, is_async: bool = False) -> None:
            full = settings.MIDDLEWARE
            settings.MIDDLEWARE = API_MIDDLEWARE  # read once, here, while the app starts
            try:
                super().load_middleware(is_async)
            finally:
                settings.MIDDLEWARE = full

    return ApiHandler()


# Paths served by the lean handler: the API, and the strategy webhooks (TradingView,
# ChartInk, the SDK's Strategy), which carry no cookie, are CSRF-exempt and answer JSON.
LEAN_PREFIXES = ("/api/", "/strategy/webhook/", "/chartink/webhook/")


class PathDispatch:
    """/api/ and the webhooks go to the lean API handler, everything else to the full site."""

    def __init__(self, api, site) -> None:
        self.api = api
        self.site = site

    async def __call__(self, scope, receive, send) -> None:
        app = self.api if scope.get("path", "").startswith(LEAN_PREFIXES) else self.site
        await app(scope, receive, send)
