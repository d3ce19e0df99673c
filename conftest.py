"""Shared fixtures: users, keys, and a clean slate of in-process caches per test."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import cache, caches

from brokers.fakelive.testing import fake_exchange, fakelive_market  # noqa: F401  (a live broker over respx)
from brokers.sandbox.testing import market, sandbox_contract, tape  # noqa: F401  (fixtures for every app)

# Fails the run if a known test secret (API key, password, broker token, TOTP secret,
# SECRET_KEY, pepper, Fernet key) shows up in anything the session logged.
pytest_plugins = ["tests.secretscan"]


@pytest.fixture(autouse=True)
def _fresh_caches():
    from accounts.apikeys import verified_keys
    from accounts.brokers import forget_live_broker

    verified_keys.clear()
    forget_live_broker()
    cache.clear()
    if not settings.REDIS_URL:  # on Redis, the default cache's clear() emptied the counters too
        caches["counters"].clear()
    yield
    verified_keys.clear()
    forget_live_broker()


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str = "trader", password: str = "correct-horse-battery-9", **extra):
        return django_user_model.objects.create_user(username=username, password=password, **extra)

    return make


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def api_key(user) -> str:
    from accounts.services import create_api_key

    return create_api_key(user=user)


@pytest.fixture
def post_json(client):
    """POST a JSON body to an /api/v1 path the way the SDK does."""
    import json

    def post(path: str, body, **extra):
        payload = body if isinstance(body, (str, bytes)) else json.dumps(body)
        extra.setdefault("content_type", "application/json")
        return client.post(path, data=payload, **extra)

    return post


@pytest.fixture
def api_call(post_json, api_key):
    """POST to /api/v1/<endpoint> with the user's key; returns (status code, JSON body)."""

    def call(endpoint: str, **fields):
        response = post_json(f"/api/v1/{endpoint}", {"apikey": api_key, **fields})
        return response.status_code, response.json()

    return call


@pytest.fixture
def order_event_bus(settings):
    """A feed forwarder on free loopback ports carrying order events between the test's
    threads, as the feed process does between the platform's processes."""
    import socket
    import threading

    from marketdata.bus import Forwarder
    from marketdata.stream.orderfeed import reset_order_feed

    def port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    settings.ZMQ_XSUB_ADDRESS, settings.ZMQ_XPUB_ADDRESS = f"tcp://127.0.0.1:{port()}", f"tcp://127.0.0.1:{port()}"
    settings.REDIS_URL = ""
    forwarder = Forwarder(settings.ZMQ_XSUB_ADDRESS, settings.ZMQ_XPUB_ADDRESS)
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    assert forwarder.wait_ready()
    reset_order_feed()
    yield forwarder
    reset_order_feed()
    forwarder.stop()
    thread.join(5)
