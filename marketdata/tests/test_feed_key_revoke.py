"""A feed socket lives only as long as the API key it signed in with: regenerating or
revoking that key closes it within a second, wherever the key was changed (the event
crosses processes on the bus), while sockets on other, valid keys keep streaming."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from accounts.services import create_api_key, revoke_api_key
from core import uievents
from marketdata.bus import Forwarder
from marketdata.stream.consumer import CLOSE_KEY_REVOKED, FeedConsumer
from marketdata.stream.feeds import FeedSupervisor
from marketdata.stream.hub import reset_hub
from marketdata.stream.orderfeed import reset_order_feed

PASSWORD = "correct-horse-battery-9"
CLOSE_WITHIN = 1.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def feed(transactional_db, market):
    """A forwarder on loopback ports, the simulated tick publisher in a thread, and the
    process bus on the same forwarder (as the feed process runs them)."""
    xsub, xpub = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    forwarder = Forwarder(xsub, xpub)
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    assert forwarder.wait_ready()
    stop = threading.Event()
    reset_hub(xpub)
    with override_settings(ZMQ_XSUB_ADDRESS=xsub, ZMQ_XPUB_ADDRESS=xpub, REDIS_URL="", WS_AUTH_GRACE_SECONDS=15,
                           SIM_TICKS_PER_SECOND=20):
        supervisor = threading.Thread(target=FeedSupervisor(address=xsub).run, args=(stop,), daemon=True)
        supervisor.start()
        reset_order_feed()
        yield market
        reset_order_feed()
    stop.set()
    supervisor.join(5)
    forwarder.stop()
    thread.join(5)


async def _streaming(key: str) -> WebsocketCommunicator:
    """A socket signed in with ``key``, subscribed to SBIN and past its first tick."""
    communicator = WebsocketCommunicator(FeedConsumer.as_asgi(), "/")
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"action": "authenticate", "api_key": key})
    reply = await communicator.receive_json_from(timeout=5)
    assert reply["status"] == "success", reply
    await communicator.send_json_to({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 1})
    assert (await communicator.receive_json_from(timeout=5))["type"] == "subscribe"
    await _next_tick(communicator)
    return communicator


async def _next_tick(communicator, timeout: float = 5.0) -> dict:
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message.get("type") == "market_data":
            return message


async def _closed_within(communicator, seconds: float) -> tuple[list[dict], dict]:
    """The frames up to the close, and the close itself; fails if none comes in time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    frames = []
    while True:
        output = await communicator.receive_output(timeout=max(deadline - loop.time(), 0.001))
        if output["type"] == "websocket.close":
            return frames, output
        frames.append(json.loads(output["text"]))


async def _still_streaming(communicator, ticks: int = 5) -> None:
    for _ in range(ticks):
        await _next_tick(communicator, timeout=2)


def test_regenerating_a_key_closes_its_sockets_within_a_second_and_spares_other_keys(feed, user, api_key,
                                                                                   make_user):
    bob = make_user("bob", PASSWORD)
    bob_key = create_api_key(user=bob)

    async def scenario():
        old, other = await _streaming(api_key), await _streaming(bob_key)
        new_key = await database_sync_to_async(create_api_key)(user=user)  # the trader regenerates
        frames, close = await _closed_within(old, CLOSE_WITHIN)
        assert close["code"] == CLOSE_KEY_REVOKED
        assert {"status": "error", "code": "AUTHENTICATION_ERROR", "message": "API key revoked"} in frames
        await _still_streaming(other)
        # The new key signs in and streams; revoking it closes that socket too.
        fresh = await _streaming(new_key)
        await database_sync_to_async(revoke_api_key)(user=user)
        _, close = await _closed_within(fresh, CLOSE_WITHIN)
        assert close["code"] == CLOSE_KEY_REVOKED
        await _still_streaming(other)
        await other.disconnect()

    async_to_sync(scenario)()


def test_only_the_revoked_key_s_sockets_close_even_for_the_same_user(feed, user, api_key, make_user):
    from accounts.models import ApiKey

    old_id = ApiKey.objects.get(user=user).pk
    # A bystander keeps SBIN subscribed in the hub throughout: this test is about which
    # sockets a revocation closes. (Re-subscribing right after the hub's last unsubscribe
    # sometimes got no tick within 5 s on 2026-11-30, before this session's changes too:
    # noted on issue 15 to be found.)
    bystander_key = create_api_key(user=make_user("carol", PASSWORD))

    async def scenario():
        bystander = await _streaming(bystander_key)
        old = await _streaming(api_key)
        new_key = await database_sync_to_async(create_api_key)(user=user)
        await _closed_within(old, CLOSE_WITHIN)
        fresh = await _streaming(new_key)
        # A late copy of the old key's revocation (another process, a slow bus) spares the new key's socket.
        await database_sync_to_async(uievents.publish)(user.pk, "apikey_revoked", {"key_id": old_id})
        await _still_streaming(fresh, ticks=10)
        await fresh.disconnect()
        await bystander.disconnect()

    async_to_sync(scenario)()


def test_a_revoked_key_cannot_sign_a_socket_in(feed, user, api_key):
    revoke_api_key(user=user)

    async def scenario():
        communicator = WebsocketCommunicator(FeedConsumer.as_asgi(), "/")
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"action": "authenticate", "api_key": api_key})
        reply = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return reply

    assert async_to_sync(scenario)() == {"status": "error", "code": "AUTHENTICATION_ERROR",
                                         "message": "Invalid API key"}
