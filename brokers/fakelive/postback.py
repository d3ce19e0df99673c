"""FakeLive's order postbacks: the order-book row as JSON plus the account's ``user_id``,
signed with an HMAC-SHA256 of the raw body under the app's api_secret, hex, in the
``X-FakeLive-Signature`` header. (FakeLive itself declares POLL; a test registers a
variant declaring POSTBACK to drive the endpoint.)"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from brokers.base import BrokerCredentials, BrokerOrder
from brokers.fakelive import mapping
from brokers.fakelive.schemas import OrderRow
from brokers.postback import PostbackMalformed, PostbackUnsigned, hmac_sha256_matches
from brokers.selectors import find_instrument_by_token

SIGNATURE_HEADER = "X-FakeLive-Signature"


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PostbackMalformed("FakeLive postback is not JSON") from None
    if not isinstance(payload, dict):
        raise PostbackMalformed("FakeLive postback is not an object")
    return payload


class FakeLivePostback:
    def client_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        client_id = _payload(body).get("user_id")
        if not isinstance(client_id, str) or not client_id:
            raise PostbackMalformed("FakeLive postback names no user_id")
        return client_id

    def order(self, body: bytes, headers: Mapping[str, str], credentials: BrokerCredentials) -> BrokerOrder:
        if not hmac_sha256_matches(body, credentials.api_secret, headers.get(SIGNATURE_HEADER, "")):
            raise PostbackUnsigned("FakeLive postback signature missing or wrong")
        row = cast(OrderRow, _payload(body))
        try:
            exchange = str(mapping.our_exchange(row["exchange"]))
            info = find_instrument_by_token(broker="fakelive", exchange=exchange,
                                            token=str(row.get("instrument_token", "")))
            symbol = info.symbol if info else str(row["tradingsymbol"]).removesuffix(mapping.EQUITY_SUFFIX)
            return mapping.broker_order(row, symbol)
        except (mapping.UnreadablePayload, KeyError, TypeError, ValueError, ArithmeticError) as problem:
            raise PostbackMalformed(f"FakeLive postback order unreadable: {problem}") from None
