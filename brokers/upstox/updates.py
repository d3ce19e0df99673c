"""Upstox's order updates pushed over its portfolio stream, as an OrderUpdateStream
(brokers/order_stream.py): ``GET /v2/feed/portfolio-stream-feed/authorize?update_types=order``
(Bearer) answers a one-time ``wss://`` URL; every message is JSON text, the same payload
as Upstox's order webhook (``update_type`` "order", then the order-book row's fields).

Ready for the feed process to run; the adapter still declares POLL because the registry
has no hook yet for a package's order socket (see the package notes). Upstox's webhook is
not used: its calls carry no signature, and an order we cannot verify is never read."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, cast

from brokers.base import BrokerCredentials, BrokerOrder, BrokerUnavailable
from brokers.order_stream import OrderSink
from brokers.selectors import find_instrument_by_token
from brokers.streaming import StreamClosed
from brokers.symbols import strip_broker_suffix

from . import mapping
from .client import UpstoxClient
from .schemas import OrderRow
from .stream import FeedSocket, _open_websocket

log = logging.getLogger(__name__)

AUTHORIZE_PATH = "/v2/feed/portfolio-stream-feed/authorize"


def order_of(payload: dict[str, Any]) -> BrokerOrder | None:
    """The BrokerOrder in one order update (None for other update types or exchanges)."""
    if payload.get("update_type", "order") != "order" or payload.get("exchange") not in mapping.ROW_EXCHANGES:
        return None
    exchange = mapping.row_exchange(payload["exchange"])
    info = find_instrument_by_token(broker="upstox", exchange=str(exchange),
                                    token=str(payload.get("instrument_token") or payload.get("instrument_key")))
    symbol = info.symbol if info else strip_broker_suffix(str(payload.get("trading_symbol", "")))
    return mapping.broker_order(cast(OrderRow, payload), symbol, info.lotsize if info else 1)


class UpstoxOrderStream:
    """One account's portfolio stream, order updates only."""

    def __init__(self, credentials: BrokerCredentials, *, authorize: Callable[[], str] | None = None,
                 open_socket: Callable[[str], FeedSocket] = _open_websocket) -> None:
        self.credentials = credentials
        self._authorize = authorize or self._authorized_url
        self._open = open_socket
        self._socket: FeedSocket | None = None
        self._sink: OrderSink | None = None

    def _authorized_url(self) -> str:
        data = UpstoxClient(self.credentials).get(AUTHORIZE_PATH, update_types="order")
        url = (data.get("authorized_redirect_uri") or data.get("authorizedRedirectUri")) if isinstance(data, dict) \
            else None
        if not isinstance(url, str) or not url.startswith("wss://"):
            raise BrokerUnavailable("Upstox answered the portfolio-stream authorisation without a wss:// address")
        return url

    def connect(self, sink: OrderSink) -> None:
        self._sink = sink
        self._socket = self._open(self._authorize())

    def pump(self, timeout: float) -> bool:
        if self._socket is None:
            raise StreamClosed("not connected")
        try:
            message = self._socket.recv(timeout=timeout)
        except TimeoutError:
            return False
        except Exception as failure:
            raise StreamClosed(f"portfolio stream closed: {failure}") from failure
        self.deliver(message)
        return True

    def deliver(self, message: str | bytes) -> bool:
        """Hand the order in one message to the sink; whether there was one."""
        try:
            payload = json.loads(message)
            order = order_of(payload) if isinstance(payload, dict) else None
        except (ValueError, KeyError, TypeError, mapping.UnreadablePayload) as problem:
            log.warning("Upstox order update unreadable, skipped: %s", problem)
            return False
        if order is None or self._sink is None:
            return False
        self._sink(order)
        return True

    def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            try:
                socket.close()
            except Exception:
                log.debug("Upstox portfolio stream failed to close", exc_info=True)
