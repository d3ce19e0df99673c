"""WebSocket routes: the browser channel at /ws/app (session-authenticated, origin-checked),
and the feed, which answers on any other path, so `ws://HOST:8765/` (the official client's
default) and `/ws` behind a reverse proxy both work."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import re_path

from marketdata.stream.browser import BrowserConsumer
from marketdata.stream.consumer import FeedConsumer

websocket_urlpatterns = [
    re_path(r"^ws/app/?$", AllowedHostsOriginValidator(AuthMiddlewareStack(BrowserConsumer.as_asgi()))),
    re_path(r"", FeedConsumer.as_asgi()),
]
