"""Order events reach the WebSocket order stream (websocket.md §7) whatever process moved
the order: through a real feed forwarder on the embedded defaults, or Redis pub/sub when
the suite runs with REDIS_URL. Each connection sees each (orderid, status, filled) once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import override_settings

from accounts.services import create_api_key
from brokers.base import OrderRequest
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.sandbox.engine import FillEngine
from marketdata.bus import Forwarder
from marketdata.stream.consumer import FeedConsumer
from marketdata.stream.orderfeed import reset_order_feed
from orders import events, services
from orders.models import Order

ROOT = Path(__file__).resolve().parents[2]
# The transports to prove: ZeroMQ always, Redis too when the suite runs against it.
TRANSPORTS = ["zeromq"] + (["redis"] if os.environ.get("REDIS_URL") else [])


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=TRANSPORTS)
def event_bus(request, transactional_db, market):
    xsub, xpub = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    forwarder = Forwarder(xsub, xpub)
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    assert forwarder.wait_ready()
    redis_url = os.environ.get("REDIS_URL", "") if request.param == "redis" else ""
    with override_settings(ZMQ_XSUB_ADDRESS=xsub, ZMQ_XPUB_ADDRESS=xpub, REDIS_URL=redis_url):
        reset_order_feed()
        yield {"xsub": xsub, "xpub": xpub, "redis_url": redis_url, "market": market}
        reset_order_feed()
    forwarder.stop()
    thread.join(5)


def run(coroutine_function):
    return async_to_sync(coroutine_function)()


async def _orders_connection(key: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(FeedConsumer.as_asgi(), "/")
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"action": "authenticate", "api_key": key})
    assert (await communicator.receive_json_from(timeout=5))["status"] == "success"
    await communicator.send_json_to({"action": "subscribe_orders"})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "subscribe_orders"
    return communicator


async def _updates(communicator: WebsocketCommunicator, wait: float = 0.5) -> list[dict]:
    """Every order update that arrives until nothing more comes for ``wait`` seconds."""
    received = []
    while not await communicator.receive_nothing(timeout=wait):
        received.append(await communicator.receive_json_from(timeout=1))
    return received


LIMIT_BUY = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(2),
                         product=Product.MIS, pricetype=PriceType.LIMIT, price=Decimal("790"))


def test_two_connections_of_a_trader_each_get_one_update_per_move_and_another_trader_none(
        event_bus, user, api_key, make_user):
    other_key = create_api_key(user=make_user("other"))

    async def scenario():
        first, second, stranger = (await _orders_connection(api_key), await _orders_connection(api_key),
                                   await _orders_connection(other_key))
        placed = await database_sync_to_async(services.place_order)(user=user, request=LIMIT_BUY)
        seen = [await _updates(first), await _updates(second), await _updates(stranger, 0.2)]
        for communicator in (first, second, stranger):
            await communicator.disconnect()
        return placed, seen

    placed, (first, second, stranger) = run(scenario)
    assert [(u["orderid"], u["order_status"], u["mode"], u["user_id"]) for u in first] == [
        (placed.orderid, "open", "analyze", user.username)]
    assert second == first
    assert stranger == []


def test_the_same_move_announced_twice_reaches_a_connection_once(event_bus, user, api_key):
    message = events.order_update_message(user.username, {
        "orderid": "261130000001", "order_status": "complete", "filled_quantity": 2, "mode": "analyze",
        "broker": "sandbox"})

    async def scenario():
        communicator = await _orders_connection(api_key)
        for _ in range(3):
            await database_sync_to_async(events.publish_now)(user.pk, message)
        await database_sync_to_async(events.publish_now)(user.pk, {**message, "order_status": "cancelled"})
        updates = await _updates(communicator)
        await communicator.disconnect()
        return updates

    assert [u["order_status"] for u in run(scenario)] == ["complete", "cancelled"]


def test_a_paper_fill_made_by_the_fill_engine_reaches_the_order_stream_as_complete(event_bus, user, api_key):
    engine = FillEngine(keys_refresh_seconds=0)

    async def scenario():
        communicator = await _orders_connection(api_key)
        placed = await database_sync_to_async(services.place_order)(user=user, request=LIMIT_BUY)
        event_bus["market"].set("NSE:SBIN", "789")  # the next tick crosses the limit
        quote = event_bus["market"].quote(await database_sync_to_async(_sbin)(), None)
        moved = await database_sync_to_async(engine.on_tick)("NSE", "SBIN", quote)
        updates = await _updates(communicator)
        await communicator.disconnect()
        return placed, moved, updates

    placed, moved, updates = run(scenario)
    assert moved == 1
    assert [(u["orderid"], u["order_status"], u["filled_quantity"]) for u in updates] == [
        (placed.orderid, "open", 0), (placed.orderid, "complete", 2)]
    assert updates[-1]["average_price"] == 790.0 and updates[-1]["pending_quantity"] == 0
    row = Order.objects.get(broker_order_id=placed.orderid)
    assert (row.status, row.filled_quantity) == ("complete", 2)


def _sbin():
    from brokers.selectors import find_instrument

    return find_instrument(broker="sandbox", exchange="NSE", symbol="SBIN")


PUBLISH_FROM_ANOTHER_PROCESS = """
import django, sys
django.setup()
from orders import events
events.publish_now(int(sys.argv[1]), events.order_update_message(sys.argv[2], {
    "orderid": "261130000042", "order_status": "complete", "filled_quantity": 5, "mode": "live",
    "broker": "sandbox"}))
"""


def test_an_order_event_published_by_another_process_reaches_this_ones_connections(event_bus, user, api_key):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(DJANGO_SETTINGS_MODULE="openalgo.settings", ZMQ_XSUB_ADDRESS=event_bus["xsub"],
               ZMQ_XPUB_ADDRESS=event_bus["xpub"], OPENALGO_VAR_DIR=str(ROOT / "var" / "events-publisher"))
    if event_bus["redis_url"]:
        env["REDIS_URL"] = event_bus["redis_url"]
    if connection.vendor != "sqlite":
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]

    async def scenario():
        communicator = await _orders_connection(api_key)
        result = await database_sync_to_async(subprocess.run)(
            [sys.executable, "-c", PUBLISH_FROM_ANOTHER_PROCESS, str(user.pk), user.username], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        updates = await _updates(communicator, 2.0)
        await communicator.disconnect()
        return updates

    assert [(u["orderid"], u["order_status"], u["user_id"]) for u in run(scenario)] == [
        ("261130000042", "complete", user.username)]
