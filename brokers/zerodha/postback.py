"""Zerodha's order postbacks (https://kite.trade/docs/connect/v3/postbacks/): Kite POSTs the
order's JSON (the order-book row plus ``user_id``, ``app_id`` and ``checksum``) to the
app's registered postback URL on COMPLETE, CANCEL, REJECTED and UPDATE. The checksum is
the hex SHA-256 of ``order_id + order_timestamp + api_secret``; a payload whose checksum
does not match the account's secret is never read as an order."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from brokers.base import BrokerCredentials, BrokerOrder
from brokers.postback import PostbackMalformed, PostbackUnsigned

from . import mapping
from .symbols import our_symbol


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PostbackMalformed("Zerodha postback is not JSON") from None
    if not isinstance(payload, dict):
        raise PostbackMalformed("Zerodha postback is not an object")
    return payload


def postback_checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    return hashlib.sha256(f"{order_id}{order_timestamp}{api_secret}".encode()).hexdigest()


class ZerodhaPostback:
    def client_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        client_id = _payload(body).get("user_id")
        if not isinstance(client_id, str) or not client_id:
            raise PostbackMalformed("Zerodha postback names no user_id")
        return client_id

    def order(self, body: bytes, headers: Mapping[str, str], credentials: BrokerCredentials) -> BrokerOrder:
        payload = _payload(body)
        order_id, stamp, checksum = (payload.get("order_id"), payload.get("order_timestamp"),
                                     payload.get("checksum"))
        if not credentials.api_secret or not all(isinstance(v, str) and v for v in (order_id, stamp, checksum)):
            raise PostbackUnsigned("Zerodha postback carries no checksum we can verify")
        expected = postback_checksum(str(order_id), str(stamp), credentials.api_secret)
        if not hmac.compare_digest(expected, str(checksum).strip().lower()):
            raise PostbackUnsigned("Zerodha postback checksum does not match")
        try:
            return mapping.broker_order(payload, our_symbol(payload))
        except (mapping.UnreadablePayload, KeyError, TypeError, ValueError, ArithmeticError) as problem:
            raise PostbackMalformed(f"Zerodha postback order unreadable: {problem}") from None
