"""WebSocket routes: the feed answers on any path, so `ws://HOST:8765/` (the official
client's default) and `/ws` behind a reverse proxy both work."""

from __future__ import annotations

from django.urls import re_path

from marketdata.stream.consumer import FeedConsumer

websocket_urlpatterns = [re_path(r"", FeedConsumer.as_asgi())]
