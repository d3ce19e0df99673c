"""ASGI entry point of the feed server (the Procfile's ``ws`` process, on ``WS_PORT``): the
OpenAlgo WebSocket feed and nothing else.

Every WebSocket, on any path, goes to the same ``FeedConsumer`` that answers ``/ws`` on the
HTTP port (marketdata/routing.py), so a client sees the same protocol on both ports. There
is no Django HTTP stack here (no URLconf, middleware, sessions or templates): a plain HTTP
request gets ``426 Upgrade Required``. ``FEED_PROCESSES`` copies of this app share the
port (uvicorn ``--workers``); each has its own ZeroMQ SUB (marketdata/stream/hub.py) and
order/UI event subscriptions (marketdata/stream/orderfeed.py), started with its first
subscriber."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")

import django

django.setup(set_prefix=False)

from marketdata.stream.consumer import FeedConsumer  # noqa: E402  (needs the apps loaded)

feed = FeedConsumer.as_asgi()

UPGRADE_REQUIRED = b"This is the OpenAlgo WebSocket feed: connect with a WebSocket client.\n"


async def _upgrade_required(receive, send) -> None:
    await send({"type": "http.response.start", "status": 426, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(UPGRADE_REQUIRED)).encode()),
        (b"upgrade", b"websocket"), (b"connection", b"Upgrade")]})
    await send({"type": "http.response.body", "body": UPGRADE_REQUIRED})


async def _lifespan(receive, send) -> None:
    # Nothing to start or stop: the hub and the event feeds start with their first subscriber.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send) -> None:
    kind = scope["type"]
    if kind == "websocket":
        await feed(scope, receive, send)
    elif kind == "http":
        await _upgrade_required(receive, send)
    elif kind == "lifespan":
        await _lifespan(receive, send)
    else:
        raise ValueError(f"no handler for ASGI scope type {kind!r}")
