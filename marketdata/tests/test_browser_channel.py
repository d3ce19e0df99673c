"""The browser channel (/ws/app): only a signed-in session from an allowed origin gets
one; it carries that user's events and no one else's; forced logout closes it."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from core import uievents
from openalgo.asgi import application

PASSWORD = "correct-horse-battery-9"


def _cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def _communicator(cookie: str | None, origin: str = "http://127.0.0.1:5000") -> WebsocketCommunicator:
    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1:5000")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/app", headers=headers)


async def _frames_until(communicator, wanted: str, timeout: float = 5.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        frame = json.loads(await communicator.receive_from(timeout=max(left, 0.01)))
        if frame.get("type") == wanted:
            return frame


@pytest.fixture
def two_users(transactional_db, make_user, order_event_bus):
    return make_user("alice", PASSWORD), make_user("bob", PASSWORD)


def test_anonymous_tab_is_refused(two_users):
    async def scenario():
        communicator = _communicator(None)
        connected, code = await communicator.connect()
        assert not connected and code == 4401

    async_to_sync(scenario)()


def test_foreign_origin_is_refused(two_users):
    alice, _ = two_users
    cookie = _cookie_for(alice)

    async def scenario():
        communicator = _communicator(cookie, origin="https://evil.example")
        connected, _ = await communicator.connect()
        assert not connected

    async_to_sync(scenario)()


def test_events_reach_only_their_user(two_users):
    alice, bob = two_users
    cookies = _cookie_for(alice), _cookie_for(bob)

    async def scenario():
        tabs = [_communicator(cookie) for cookie in cookies]
        for tab, user in zip(tabs, (alice, bob), strict=True):
            connected, _ = await tab.connect()
            assert connected
            hello = await _frames_until(tab, "hello")
            assert hello["user_id"] == user.username
        await database_sync_to_async(uievents.publish)(alice.pk, "pending_order_created",
                                                       {"pending_order_id": 7, "api_type": "placeorder"})
        got = await _frames_until(tabs[0], "pending_order_created")
        assert got["pending_order_id"] == 7
        assert await tabs[1].receive_nothing(timeout=0.5)
        for tab in tabs:
            await tab.disconnect()

    async_to_sync(scenario)()


def test_force_logout_closes_the_named_sessions_only(two_users):
    alice, _ = two_users
    kept, ended = _cookie_for(alice), _cookie_for(alice)
    ended_key = ended.split("=", 1)[1]

    async def scenario():
        tab_kept, tab_ended = _communicator(kept), _communicator(ended)
        for tab in (tab_kept, tab_ended):
            assert (await tab.connect())[0]
            await _frames_until(tab, "hello")
        await database_sync_to_async(uievents.publish)(
            alice.pk, "force_logout", {"message": "Signed out everywhere", "session_keys": [ended_key]})
        frame = await _frames_until(tab_ended, "force_logout")
        assert frame == {"type": "force_logout", "message": "Signed out everywhere"}
        closed = await tab_ended.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4403}
        assert await tab_kept.receive_nothing(timeout=0.5)
        await tab_kept.disconnect()

    async_to_sync(scenario)()
