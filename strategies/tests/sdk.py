"""The official SDK's ``Strategy`` class when the ``openalgo`` package is installed;
otherwise a stand-in that sends exactly what it sends (spec §12.1: POST
``{host_url}/strategy/webhook/{id}`` with symbol, action upper-cased, position_size as a
string when given; raises on a non-2xx answer; returns the parsed JSON)."""

from __future__ import annotations

from typing import Any

import httpx

try:
    from openalgo import Strategy  # type: ignore[import-not-found]

    OFFICIAL = True
except ImportError:  # the package is not in this environment
    OFFICIAL = False

    class Strategy:  # type: ignore[no-redef]
        def __init__(self, host_url: str, webhook_id: str) -> None:
            self.host_url = host_url.rstrip("/")
            self.webhook_id = webhook_id

        def strategyorder(self, symbol: str, action: str, position_size: Any = None) -> dict:
            body: dict[str, str] = {"symbol": symbol, "action": action.upper()}
            if position_size is not None:
                body["position_size"] = str(position_size)
            response = httpx.post(f"{self.host_url}/strategy/webhook/{self.webhook_id}", json=body, timeout=30)
            response.raise_for_status()
            return response.json()
