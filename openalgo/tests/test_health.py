"""Liveness and readiness: database, cache, the feed bus and a worker heartbeat."""

from __future__ import annotations

import socket
import threading

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Heartbeat
from accounts.tasks import worker_heartbeat
from marketdata.bus import Forwarder


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bus():
    xsub, xpub = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    forwarder = Forwarder(xsub, xpub)
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    assert forwarder.wait_ready()
    with override_settings(ZMQ_XSUB_ADDRESS=xsub, ZMQ_XPUB_ADDRESS=xpub):
        yield
    forwarder.stop()
    thread.join(5)


def test_liveness_answers_without_touching_anything(client):
    response = client.get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_when_database_cache_bus_and_a_worker_are_up(client, db, bus):
    worker_heartbeat()
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok", "bus": "ok",
                                                          "worker": "ok"}}


def test_not_ready_without_a_recent_worker_or_without_the_bus(client, db):
    Heartbeat.objects.create(name="worker", at=timezone.now() - timezone.timedelta(minutes=5))
    with override_settings(ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{_port()}",
                           ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{_port()}"):
        response = client.get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok" and checks["cache"] == "ok"
    assert checks["bus"].startswith("error") and checks["worker"].startswith("error")
