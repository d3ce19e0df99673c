"""Health endpoints for load balancers and orchestrators: liveness (the process answers)
and readiness (database, cache/Redis, the tick bus and a recently seen worker)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import zmq
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.otp import verified_login_required
from accounts.selectors import last_heartbeat

WORKER_STALE = timedelta(seconds=120)


@require_GET
def live(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _cache() -> str:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", 5)
    value = cache.get(key)
    cache.delete(key)
    if value != "1":
        raise RuntimeError("cache did not return what was stored")
    return "ok"


def _bus(timeout: float = 1.0) -> str:
    """A message round trip through the feed process's forwarder."""
    context = zmq.Context.instance()
    sub, pub = context.socket(zmq.SUB), context.socket(zmq.PUB)
    topic = f"health|{uuid.uuid4().hex}".encode()
    try:
        for socket in (sub, pub):
            socket.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, topic)
        sub.connect(settings.ZMQ_XPUB_ADDRESS)
        pub.connect(settings.ZMQ_XSUB_ADDRESS)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pub.send_multipart([topic, b"ping"])
            if sub.poll(50):
                sub.recv_multipart()
                return "ok"
        raise RuntimeError("no message crossed the feed bus")
    finally:
        sub.close(linger=0)
        pub.close(linger=0)


def _worker() -> str:
    beat = last_heartbeat("worker")
    if beat is None or timezone.now() - beat > WORKER_STALE:
        raise RuntimeError("no worker heartbeat in the last two minutes")
    return "ok"


CHECKS = (("database", _database), ("cache", _cache), ("bus", _bus), ("worker", _worker))


def readiness() -> dict[str, str]:
    """Each check's answer: "ok", or "error: <why>"."""
    checks = {}
    for name, check in CHECKS:
        try:
            checks[name] = check()
        except Exception as exc:  # each failure is reported, none is fatal to the probe
            checks[name] = f"error: {type(exc).__name__}: {exc}"[:200]
    return checks


@require_GET
def ready(request) -> JsonResponse:
    checks = readiness()
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)


@never_cache
@require_GET
@verified_login_required
def ready_panel(request) -> HttpResponse:
    """The Health page's panel (accounts:monitor_health): /health/ready's checks as HTML,
    re-fetched by htmx every few seconds."""
    started = time.perf_counter()
    checks = readiness()
    rows = [{"name": name, "ok": value == "ok", "detail": value.removeprefix("error: ")}
            for name, value in checks.items()]
    return render(request, "partials/health_panel.html",
                  {"rows": rows, "healthy": all(row["ok"] for row in rows), "checked_at": timezone.now(),
                   "took_ms": round((time.perf_counter() - started) * 1000, 1)})
