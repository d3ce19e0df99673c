"""WebSocket routes. The market-data feed consumer registers here when it lands."""

from __future__ import annotations

websocket_urlpatterns: list = []
