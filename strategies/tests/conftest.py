"""Fixtures of the webhook strategy tests: a strategy with a symbol map, a clock inside
its window, and the alerts handed to the worker (recorded, run by the test)."""

from __future__ import annotations

import json
from datetime import datetime, time
from decimal import Decimal

import pytest

from core.values import IST
from strategies import services, tasks
from strategies.models import Strategy, SymbolMapping

IN_WINDOW = datetime(2026, 11, 30, 10, 30, tzinfo=IST)


@pytest.fixture
def clock(monkeypatch):
    """The strategies' clock, set by the test (10:30 IST on a Monday unless moved)."""

    class Clock:
        at = IN_WINDOW

        def set(self, hour: int, minute: int = 0) -> None:
            self.at = datetime(2026, 11, 30, hour, minute, tzinfo=IST)

    fake = Clock()
    monkeypatch.setattr(services, "now", lambda: fake.at)
    return fake


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Alert ids handed to the worker; the test runs them with services.execute."""
    sent: list[int] = []
    monkeypatch.setattr(tasks, "queue_alert", sent.append)
    return sent


@pytest.fixture
def make_strategy(user):
    def make(name: str = "Trend", symbols=(("SBIN", "NSE", 10, "MIS"), ("RELIANCE", "NSE", 5, "MIS")),
             **fields) -> Strategy:
        fields.setdefault("start_time", time(9, 15))
        fields.setdefault("end_time", time(15, 0))
        fields.setdefault("squareoff_time", time(15, 15))
        strategy = Strategy.objects.create(owner=fields.pop("owner", user), name=name, **fields)
        for symbol, exchange, quantity, product in symbols:
            SymbolMapping.objects.create(strategy=strategy, symbol=symbol, exchange=exchange,
                                         quantity=Decimal(quantity), product=product)
        return strategy

    return make


@pytest.fixture
def strategy(make_strategy) -> Strategy:
    return make_strategy()


@pytest.fixture
def hook(client):
    """POST a body to a strategy's webhook; returns (status, JSON answer)."""

    def post(strategy_or_id, body, *, chartink: bool = False, content_type: str = "application/json", **headers):
        webhook_id = getattr(strategy_or_id, "webhook_id", strategy_or_id)
        path = f"/{'chartink' if chartink else 'strategy'}/webhook/{webhook_id}"
        payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
        response = client.post(path, data=payload, content_type=content_type, **headers)
        return response.status_code, response.json()

    return post
