"""Sign out everywhere and a password change close the browser channels of the sessions
they end, over the process bus, and leave this session's channel open."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts import sessions
from openalgo.asgi import application

PASSWORD = "correct-horse-battery-9"


def _signed_in(user) -> tuple[Client, str]:
    client = Client()
    assert client.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client, client.cookies["sessionid"].value


def _tab(session_key: str) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1:5000"), (b"host", b"127.0.0.1:5000"),
               (b"cookie", f"sessionid={session_key}".encode())]
    return WebsocketCommunicator(application, "/ws/app", headers=headers)


async def _frames_until(communicator, wanted: str, timeout: float = 5.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        frame = json.loads(await communicator.receive_from(timeout=max(left, 0.01)))
        if frame.get("type") == wanted:
            return frame


@pytest.fixture
def trader(transactional_db, make_user, order_event_bus):
    return make_user("trader", PASSWORD)


def test_sign_out_everywhere_closes_the_other_sessions_channels(trader):
    (_, here), (_, phone), (_, laptop) = _signed_in(trader), _signed_in(trader), _signed_in(trader)

    async def scenario():
        tabs = {key: _tab(key) for key in (here, phone, laptop)}
        for tab in tabs.values():
            assert (await tab.connect())[0]
            await _frames_until(tab, "hello")
        ended = await database_sync_to_async(sessions.end_sessions)(
            trader, keep=here, message="Signed out everywhere", reason="test")
        assert ended == 2
        for key in (phone, laptop):
            frame = await _frames_until(tabs[key], "force_logout")
            assert frame == {"type": "force_logout", "message": "Signed out everywhere"}
            assert await tabs[key].receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
        update = await _frames_until(tabs[here], "active_sessions_update")
        assert update["count"] == 1 and here not in json.dumps(update)
        await tabs[here].disconnect()

    async_to_sync(scenario)()


def test_a_password_change_closes_the_other_sessions_channels(trader):
    client, here = _signed_in(trader)
    _, elsewhere = _signed_in(trader)

    async def scenario():
        tab_here, tab_elsewhere = _tab(here), _tab(elsewhere)
        for tab in (tab_here, tab_elsewhere):
            assert (await tab.connect())[0]
            await _frames_until(tab, "hello")
        response = await database_sync_to_async(client.post)(
            "/account/password/", {"old_password": PASSWORD, "new_password1": "a-new-passphrase-for-9",
                                   "new_password2": "a-new-passphrase-for-9"})
        assert response.status_code == 302
        await _frames_until(tab_elsewhere, "force_logout")
        assert await tab_elsewhere.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
        # This session's channel was opened under the key the change replaced: the change
        # keeps the session, so its own channel is not told to sign out.
        for _ in range(3):
            frame = json.loads(await tab_here.receive_from(timeout=2))
            assert frame["type"] != "force_logout"
            if frame["type"] == "active_sessions_update":
                break
        await tab_here.disconnect()

    async_to_sync(scenario)()
