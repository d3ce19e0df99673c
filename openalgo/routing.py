"""WebSocket routes of the project: the market-data and order-update feed."""

from __future__ import annotations

from marketdata.routing import websocket_urlpatterns

__all__ = ["websocket_urlpatterns"]
