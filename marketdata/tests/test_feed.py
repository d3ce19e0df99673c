"""The WebSocket feed (websocket.md) over a real ZeroMQ bus: a forwarder on loopback
ports, the simulated publisher in a thread, the consumer through Channels' communicator."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from marketdata.bus import Forwarder
from marketdata.stream import codec
from marketdata.stream.consumer import FeedConsumer
from marketdata.stream.feeds import FeedSupervisor
from marketdata.stream.hub import Hub, Outbox, reset_hub
from marketdata.stream.orderfeed import reset_order_feed


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bus(transactional_db, market):
    xsub, xpub = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    forwarder = Forwarder(xsub, xpub)
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    assert forwarder.wait_ready()
    stop = threading.Event()
    reset_hub(xpub)
    with override_settings(ZMQ_XSUB_ADDRESS=xsub, ZMQ_XPUB_ADDRESS=xpub, WS_AUTH_GRACE_SECONDS=15,
                           SIM_TICKS_PER_SECOND=20):
        feed = threading.Thread(target=FeedSupervisor(address=xsub).run, args=(stop,), daemon=True)
        feed.start()
        reset_order_feed()
        yield market
        reset_order_feed()
    stop.set()
    feed.join(5)
    forwarder.stop()
    thread.join(5)


def run(coroutine_function):
    return async_to_sync(coroutine_function)()


async def _connect(key: str | None):
    communicator = WebsocketCommunicator(FeedConsumer.as_asgi(), "/")
    connected, _ = await communicator.connect()
    assert connected
    if key:
        await communicator.send_json_to({"action": "authenticate", "api_key": key})
        reply = await communicator.receive_json_from(timeout=5)
        assert reply["type"] == "auth" and reply["status"] == "success"
    return communicator


async def _next_tick(communicator, timeout: float = 5.0) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message.get("type") == "market_data":
            return message


def test_authenticate_answers_with_the_broker_and_user(bus, api_key, user):
    async def scenario():
        communicator = WebsocketCommunicator(FeedConsumer.as_asgi(), "/")
        await communicator.connect()
        await communicator.send_json_to({"action": "authenticate", "api_key": api_key})
        reply = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return reply

    assert run(scenario) == {"type": "auth", "status": "success", "message": "Authentication successful",
                             "broker": "sandbox", "user_id": user.username,
                             "supported_features": {"ltp": True, "quote": True, "depth": True}}


def test_auth_failures_and_verbs_before_auth_get_the_error_envelope(bus):
    async def scenario():
        communicator = await _connect(None)
        replies = []
        for message in ({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE"},
                        {"action": "authenticate"}, {"action": "authenticate", "api_key": "0" * 64}):
            await communicator.send_json_to(message)
            replies.append(await communicator.receive_json_from(timeout=5))
        await communicator.disconnect()
        return replies

    assert run(scenario) == [
        {"status": "error", "code": "NOT_AUTHENTICATED", "message": "You must authenticate first"},
        {"status": "error", "code": "AUTHENTICATION_ERROR", "message": "API key is required"},
        {"status": "error", "code": "AUTHENTICATION_ERROR", "message": "Invalid API key"}]


def test_subscribe_acks_then_ticks_arrive_in_the_subscribed_mode(bus, api_key):
    async def scenario():
        communicator = await _connect(api_key)
        await communicator.send_json_to({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 1,
                                         "depth": 5})
        ack = await communicator.receive_json_from(timeout=5)
        tick = await _next_tick(communicator)
        await communicator.disconnect()
        return ack, tick

    ack, tick = run(scenario)
    assert ack == {"type": "subscribe", "status": "success", "message": "Subscription processing complete",
                   "broker": "sandbox", "subscriptions": [{"symbol": "SBIN", "exchange": "NSE", "status": "success",
                                                           "mode": "LTP", "depth": 5, "broker": "sandbox"}]}
    assert (tick["symbol"], tick["exchange"], tick["mode"], tick["broker"]) == ("SBIN", "NSE", 1, "sandbox")
    assert tick["data"]["ltp"] == 800.0 and isinstance(tick["data"]["timestamp"], int)


def test_depth_mode_frames_carry_five_levels_and_inherit_lower_modes(bus, api_key):
    async def scenario():
        communicator = await _connect(api_key)
        for mode in (1, "Depth"):
            await communicator.send_json_to({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE",
                                             "mode": mode})
            await communicator.receive_json_from(timeout=5)
        ticks = [await _next_tick(communicator) for _ in range(3)]
        await communicator.disconnect()
        return ticks

    ticks = run(scenario)
    assert {t["mode"] for t in ticks[1:]} == {3}  # one copy, tagged with the highest subscribed mode
    depth = ticks[-1]["data"]["depth"]
    assert len(depth["buy"]) == len(depth["sell"]) == 5 and depth["buy"][0]["price"] == 799.95
    assert ticks[-1]["data"]["depth_level"] == 5


def test_unknown_symbols_are_partial_and_unsubscribe_stops_ticks(bus, api_key):
    async def scenario():
        communicator = await _connect(api_key)
        await communicator.send_json_to({"action": "subscribe", "mode": 2, "request_id": "r1", "symbols": [
            {"symbol": "SBIN", "exchange": "NSE"}, {"symbol": "NOPE", "exchange": "NSE"}]})
        ack = await communicator.receive_json_from(timeout=5)
        await _next_tick(communicator)
        await communicator.send_json_to({"action": "unsubscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 2})
        unsub = await communicator.receive_json_from(timeout=5)
        await asyncio.sleep(0.3)
        while not await communicator.receive_nothing(timeout=0.05):
            await communicator.receive_json_from()  # ticks already in flight
        quiet = await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        return ack, unsub, quiet

    ack, unsub, quiet = run(scenario)
    assert ack["status"] == "partial" and ack["request_id"] == "r1"
    assert ack["subscriptions"][1] == {"symbol": "NOPE", "exchange": "NSE", "status": "error",
                                       "message": "Token not found for NOPE on NSE", "broker": "sandbox"}
    assert unsub["type"] == "unsubscribe" and unsub["successful"][0]["symbol"] == "SBIN"
    assert quiet


def test_garbage_frames_get_the_error_envelope_and_the_socket_survives(bus, api_key):
    async def scenario():
        communicator = await _connect(api_key)
        replies = []
        for text in ("not json", json.dumps({"action": "dance"}), "x" * (1024 * 1024),
                     json.dumps({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 4}),
                     json.dumps({"action": "subscribe"}), json.dumps([1, 2])):
            await communicator.send_to(text_data=text)
            replies.append(await communicator.receive_json_from(timeout=5))
        await communicator.send_json_to({"action": "ping", "timestamp": 5, "_pingId": 7})
        replies.append(await communicator.receive_json_from(timeout=5))
        await communicator.disconnect()
        return replies

    replies = run(scenario)
    assert [r.get("code") for r in replies[:6]] == ["INVALID_JSON", "INVALID_ACTION", "INVALID_PARAMETERS",
                                                   "INVALID_MODE", "INVALID_PARAMETERS", "INVALID_JSON"]
    assert replies[1]["message"] == "Invalid action: dance"
    assert replies[3]["message"] == "Invalid mode 4; expected 1 (LTP), 2 (Quote), or 3 (Depth)"
    assert replies[6]["type"] == "pong" and (replies[6]["client_timestamp"], replies[6]["_pingId"]) == (5, 7)


def test_an_unauthenticated_socket_is_closed_with_4401(bus):
    async def scenario():
        communicator = await _connect(None)
        return await communicator.receive_output(timeout=3)

    with override_settings(WS_AUTH_GRACE_SECONDS=0.2):
        output = run(scenario)
    assert output == {"type": "websocket.close", "code": 4401, "reason": "auth timeout"}


def test_order_updates_reach_subscribed_connections(bus, api_key, user):
    from brokers.base import OrderRequest
    from brokers.enums import Action, Exchange
    from orders import services

    async def scenario():
        communicator = await _connect(api_key)
        await communicator.send_json_to({"action": "subscribe_orders", "request_id": "o"})
        ack = await communicator.receive_json_from(timeout=5)
        from channels.db import database_sync_to_async

        placed = await database_sync_to_async(services.place_order)(
            user=user, request=OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=1))
        update = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return ack, placed, update

    ack, placed, update = run(scenario)
    assert ack == {"type": "subscribe_orders", "status": "success", "message": "Subscribed to order updates",
                   "request_id": "o"}
    assert update["type"] == "order_update" and update["orderid"] == placed.orderid
    assert (update["order_status"], update["mode"], update["broker"], update["user_id"]) == (
        "complete", "analyze", "sandbox", user.username)


def test_a_users_own_feed_reaches_only_that_user():
    async def scenario():
        hub = Hub("inproc://unused")
        mine, theirs = Outbox(), Outbox()
        hub.routes[("u1", "NSE", "SBIN")][mine] = (1, 5, "zerodha")
        hub.routes[("u2", "NSE", "SBIN")][theirs] = (1, 5, "zerodha")
        hub.dispatch(codec.encode_topic("u1", "NSE", "SBIN"), json.dumps({"ltp": 1.0, "depth": {}}).encode())
        return mine.take(), theirs.take()

    mine, theirs = run(scenario)
    assert len(mine) == 1 and theirs == []


def test_a_slow_connection_keeps_only_the_latest_tick_per_symbol():
    async def scenario():
        outbox = Outbox()
        for price in range(100):
            outbox.put(("NSE", "SBIN"), f"tick {price}")
        outbox.put(("NSE", "INFY"), "infy")
        return outbox.take(), outbox.dropped

    frames, dropped = run(scenario)
    assert frames == ["tick 99", "infy"] and dropped == 99


@pytest.mark.parametrize(("value", "mode"), [(1, 1), ("2", 2), (" depth ", 3), ("Quote", 2), (4, None), ("4", None),
                                             (True, None), ("³", None), ("\u0661", None), ("", None), (None, None)])
def test_parse_mode_takes_numbers_and_names_and_refuses_everything_else(value, mode):
    assert codec.parse_mode(value) == mode
