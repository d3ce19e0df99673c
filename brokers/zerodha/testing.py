"""Zerodha in tests: its API answered by respx (record the broker's documented payloads
here), and the hook that makes the shared contract suite run over Zerodha."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import respx

from brokers.base import BrokerCredentials

from .client import DEFAULT_BASE_URL


@pytest.fixture
def zerodha_api() -> Iterator[respx.MockRouter]:
    """TODO: routes answering as the broker does, e.g. ``router.post("/orders").respond(json=...)``."""
    with respx.mock(base_url=DEFAULT_BASE_URL, assert_all_called=False) as router:
        yield router


class ContractEnvironment:
    liquid = ("SBIN", "NSE")
    lot = 1

    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router

    def adapter(self, user: object) -> Any:
        from brokers import registry

        return registry.build("zerodha", user, BrokerCredentials(broker="zerodha", access_token="test-token"))

    def away_from_market(self, action: str) -> Decimal:
        return Decimal("700") if action == "BUY" else Decimal("900")


@pytest.fixture
def zerodha_contract(db, zerodha_api) -> ContractEnvironment:
    return ContractEnvironment(zerodha_api)
