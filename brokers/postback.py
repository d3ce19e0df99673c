"""Order postbacks: a broker calling us over HTTP when an order moves. Each broker that
sends them provides an ``OrderPostback`` (registered with its adapter): it names the
broker account a payload is about, then verifies the payload with that account's
credentials (the broker's signature or checksum) and reads the order in it.

Two steps, because the secret that signs a postback belongs to one account: the caller
(accounts, above us) finds the account by the client id, then hands its credentials back
for the verification. An unverifiable payload is never read as an order."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from brokers.base import BrokerCredentials, BrokerOrder


class PostbackMalformed(Exception):
    """The payload cannot be read (not the broker's shape): answered 400."""


class PostbackUnsigned(Exception):
    """The payload carries no valid signature for the account it names: answered 403."""


@runtime_checkable
class OrderPostback(Protocol):
    """One broker's postback reader. Both methods are pure (no I/O but instrument lookups)
    and raise only PostbackMalformed or PostbackUnsigned."""

    def client_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        """The broker account (its client id) the payload says it is about, unverified."""
        ...

    def order(self, body: bytes, headers: Mapping[str, str], credentials: BrokerCredentials) -> BrokerOrder:
        """The order in a payload verified with ``credentials``' secret."""
        ...


def hmac_sha256_matches(body: bytes, secret: str, signature: str) -> bool:
    """Whether ``signature`` (hex) is the HMAC-SHA256 of ``body`` under ``secret``, compared in
    constant time. An empty secret or signature never matches."""
    if not secret or not signature:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())
