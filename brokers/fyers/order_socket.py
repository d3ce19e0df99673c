"""Fyers' order-update socket (Docs "Web Socket / Order socket") as an OrderUpdateStream.

``wss://socket.fyers.in/trade/v3`` with the header ``authorization: <app_id>:<access_token>``
(403 = bad token); we send the text JSON ``{"T": "SUB_ORD", "SLIST": ["orders"], "SUB_T": 1}``
(the Docs' key; OpenAlgo sends ``action_data`` instead) and the text ``ping`` every 10 s.
Its messages are JSON keyed ``orders`` and use the socket's raw field names (``id``,
``org_ord_status``, ``qty_filled``...), which the Docs list only through the SDK's renaming.
Rather than keep a second, half-documented mapping, a message is read as a signal: the
order it names (``id``) is read again from the order book (``GET /api/v3/orders?id=``), in
the documented REST shape, and that row is what the sink gets.

Not declared yet: Fyers' capabilities say POLL, because nothing in the platform starts an
order socket for a broker (the registry has no hook for an OrderStreamFactory)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from django.conf import settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from brokers.base import BrokerAuthExpired, BrokerCredentials, BrokerError, BrokerOrder
from brokers.order_stream import OrderSink
from brokers.streaming import StreamClosed

from .adapter import FyersAdapter
from .client import SESSION_EXPIRED, authorization

log = logging.getLogger(__name__)

DEFAULT_ORDER_SOCKET_URL = "wss://socket.fyers.in/trade/v3"
SUBSCRIBE = json.dumps({"T": "SUB_ORD", "SLIST": ["orders"], "SUB_T": 1})
PING_EVERY = 10.0


class TextConnection(Protocol):
    def send(self, message: str) -> None: ...

    def recv(self, timeout: float | None = None) -> str | bytes: ...

    def close(self) -> None: ...


Connector = Callable[[str, dict[str, str]], TextConnection]


def _connect(url: str, headers: dict[str, str]) -> TextConnection:
    return ws_connect(url, additional_headers=headers, open_timeout=10, ping_interval=None, close_timeout=2)


def order_ids(message: str | bytes) -> list[str]:
    """The order ids an order-socket message names (none for acks, pongs and other topics)."""
    try:
        payload: Any = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(payload, dict):
        return []
    orders = payload.get("orders")
    rows = orders if isinstance(orders, list) else [orders] if isinstance(orders, dict) else []
    return [str(row["id"]) for row in rows if isinstance(row, dict) and row.get("id")]


class FyersOrderSocket:
    def __init__(self, credentials: BrokerCredentials, *, connector: Connector = _connect,
                 read_order: Callable[[str], BrokerOrder] | None = None,
                 clock: Callable[[], float] = time.monotonic, url: str | None = None) -> None:
        self.credentials = credentials
        self.connector = connector
        self.read_order = read_order or FyersAdapter(None, credentials).order
        self.clock = clock
        self.url = url or str(getattr(settings, "FYERS_ORDER_SOCKET_URL", "") or DEFAULT_ORDER_SOCKET_URL)
        self.connection: TextConnection | None = None
        self._sink: OrderSink | None = None
        self._pinged = 0.0

    def connect(self, sink: OrderSink) -> None:
        headers = {"authorization": authorization(self.credentials)}
        try:
            self.connection = self.connector(self.url, headers)
        except InvalidStatus as refused:
            if refused.response.status_code in (401, 403):
                raise BrokerAuthExpired(SESSION_EXPIRED) from None
            raise StreamClosed(f"Fyers order socket refused: HTTP {refused.response.status_code}") from None
        self._sink = sink
        self.connection.send(SUBSCRIBE)
        self._pinged = self.clock()

    def pump(self, timeout: float) -> bool:
        connection = self.connection
        if connection is None or self._sink is None:
            raise StreamClosed("not connected")
        try:
            if self.clock() - self._pinged >= PING_EVERY:
                connection.send("ping")
                self._pinged = self.clock()
            message = connection.recv(timeout=timeout)
        except TimeoutError:
            return False
        except ConnectionClosed as closed:
            raise StreamClosed(f"Fyers order socket closed: {closed}") from None
        for orderid in order_ids(message):
            try:
                order = self.read_order(orderid)
            except BrokerError as failure:
                # The poller still reads the book: a missed re-read delays, never loses, the update.
                log.warning("Fyers order %s moved but could not be read: %s", orderid, failure.message)
                continue
            self._sink(order)
        return True

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()
