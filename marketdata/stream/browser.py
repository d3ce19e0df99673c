"""The browser channel (websocket.md §9): one WebSocket per tab of a signed-in session, at
``/ws/app`` on the HTTP port. It opens only for an authenticated (and, with 2FA, verified)
session from an allowed origin, and carries only that user's events: order updates (the
one order event), Action Center changes, mode changes, forced logout, master-contract
progress. Every frame is a JSON object whose ``type`` names the event.

Prices come from the market-data feed: the tab sends the feed's own ``subscribe`` and
``unsubscribe`` messages on this socket (websocket.md §3), so no API key ever reaches
the browser."""

from __future__ import annotations

import json

from channels.db import database_sync_to_async

from accounts.brokers import active_broker_name, shares_market_data
from accounts.otp import session_verified
from marketdata.stream import codec
from marketdata.stream.consumer import FeedConsumer
from marketdata.stream.orderfeed import order_feed, ui_feed

FORCE_LOGOUT = "force_logout"
CLOSE_SIGNED_OUT = 4403


@database_sync_to_async
def _admit(user, session) -> tuple[bool, str | None]:
    if not session_verified(user, session):
        return False, None
    return True, active_broker_name(user)


class BrowserConsumer(FeedConsumer):
    async def connect(self) -> None:
        user, session = self.scope.get("user"), self.scope.get("session")
        admitted, broker = await _admit(user, session)
        if not admitted:
            await self.close(code=4401)
            return
        await super().connect()
        self._grace.cancel()  # signed in by its session: no authenticate message is due
        self.session_key = getattr(session, "session_key", None)
        self.user, self.broker = user, broker
        self.owner = codec.owner_for(broker, user.pk, shared=shares_market_data(broker))
        self.ui = True
        await ui_feed().add(user.pk, self.on_ui_event)
        await order_feed().add(user.pk, self.order_outbox.put)
        self.orders = True
        await self.send(text_data=json.dumps({"type": "hello", "user_id": user.username, "broker": broker}))

    def on_ui_event(self, message: dict) -> None:
        if message.get("type") == FORCE_LOGOUT:
            only, keep = message.get("session_keys"), message.get("except_session")
            if only is not None and self.session_key not in only:
                return
            if keep and keep == self.session_key:
                return
            message = {key: value for key, value in message.items() if key not in ("session_keys", "except_session")}
            self.order_outbox.queue.put_nowait(message)
            self.order_outbox.queue.put_nowait(None)  # then close (see _send_order_updates)
            return
        self.order_outbox.queue.put_nowait(message)

    async def _send_order_updates(self) -> None:
        queue = self.order_outbox.queue
        while True:
            message = await queue.get()
            if message is None:
                await self.close(code=CLOSE_SIGNED_OUT)
                return
            await self.send(text_data=json.dumps(message))

    async def disconnect(self, code) -> None:
        if not hasattr(self, "outbox"):  # refused before it was accepted
            return
        if getattr(self, "ui", False):
            ui_feed().remove(self.user.pk, self.on_ui_event)
            self.ui = False
        await super().disconnect(code)

    async def on_authenticate(self, message: dict) -> None:
        await self.send(text_data=json.dumps({"type": "auth", "status": "success", "message": "Signed in by session",
                                              "broker": self.broker, "user_id": self.user.username}))
