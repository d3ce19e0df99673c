"""The Action Center's events reach the user's open tab through the real browser channel
(/ws/app over the process bus), once the change has committed, and no one else's: an
order queued through the API announces itself, and each decision on the page follows."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.services import create_api_key
from openalgo.asgi import application
from orders.models import Order

BUY = {"strategy": "Signals", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "4",
       "pricetype": "MARKET", "product": "MIS"}


def _tab(client: Client) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1:5000"), (b"host", b"127.0.0.1:5000"),
               (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    return WebsocketCommunicator(application, "/ws/app", headers=headers)


async def _next(tab: WebsocketCommunicator, wanted: str, timeout: float = 5.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        frame = json.loads(await tab.receive_from(timeout=max(left, 0.01)))
        if frame.get("type") == wanted:
            return frame


@pytest.fixture
def world(transactional_db, make_user, market, order_event_bus):
    trader, other = make_user("trader"), make_user("other")
    type(trader).objects.filter(pk=trader.pk).update(order_mode="semi_auto")
    pages, theirs = Client(), Client()
    pages.force_login(trader)
    theirs.force_login(other)
    return trader, create_api_key(user=trader), pages, theirs


def test_queued_and_decided_orders_reach_the_users_tab_only(world):
    trader, key, pages, theirs = world

    def place() -> dict:
        return Client().post("/api/v1/placeorder", data=json.dumps({"apikey": key, **BUY}),
                             content_type="application/json").json()

    async def scenario():
        mine, other = _tab(pages), _tab(theirs)
        for tab in (mine, other):
            assert (await tab.connect())[0]
            await _next(tab, "hello")
        body = await database_sync_to_async(place)()
        created = await _next(mine, "pending_order_created")
        assert created == {"type": "pending_order_created", "pending_order_id": body["pending_order_id"],
                           "user_id": trader.pk, "api_type": "placeorder",
                           "message": "New placeorder order queued for approval"}
        await database_sync_to_async(pages.post)(f"/action-center/{body['pending_order_id']}/approve/")
        updated = await _next(mine, "pending_order_updated")
        assert updated == {"type": "pending_order_updated", "action": "approved",
                           "order_id": body["pending_order_id"], "user_id": trader.pk}
        assert await other.receive_nothing(timeout=0.5)
        for tab in (mine, other):
            await tab.disconnect()

    async_to_sync(scenario)()
    assert Order.objects.filter(user=trader, quantity=4).count() == 1
