"""Upstox's HTTP edge: the shared broker HTTP path (brokers/http.py: one pooled client per
process, explicit timeouts, the registered egress address, transport failures, 429 and
5xx) plus Upstox's own error shape, classified here, once, into the contract's errors.

Upstox answers ``{"status": "success", "data": ...}`` or ``{"status": "error", "errors":
[{"errorCode"/"error_code", "message", ...}]}``. Order writes go to the low-latency host
(api-hft.upstox.com) as its v3 order pages say; everything else to api.upstox.com. Order
writes carry ``X-Algo-Name`` (Upstox's algo identification, 2026: ``UPSTOX_ALGO_NAME``). Since
1 April 2026 Upstox takes order writes only from the static IP the trader registered: the
shared client binds ``BROKER_EGRESS_IP`` or goes through ``BROKER_EGRESS_PROXY``, so set
one of those to the registered address (reads and market data are exempt)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings

from brokers.base import (
    BrokerAuthExpired,
    BrokerCredentials,
    BrokerError,
    BrokerRejected,
    BrokerUnavailable,
    OrderNotFound,
    SymbolNotFound,
)
from brokers.http import BrokerHTTP, check_status, json_of

BROKER = "Upstox"
DEFAULT_BASE_URL = "https://api.upstox.com"
DEFAULT_HFT_URL = "https://api-hft.upstox.com"
DEFAULT_INSTRUMENTS_URL = "https://assets.upstox.com/market-quote/instruments/exchange/complete.json.gz"
DEFAULT_ALGO_NAME = "OpenAlgo"
SESSION_EXPIRED = "Broker session expired, please log in to the broker again"

HTTP = BrokerHTTP(BROKER, base_url_setting="UPSTOX_BASE_URL", default_base_url=DEFAULT_BASE_URL,
                  headers={"Accept": "application/json"})

# Error codes that mean something other than "refused": the rest pass through as rejections.
NOT_FOUND: dict[str, type[BrokerError]] = {
    "UDAPI100010": OrderNotFound,  # order not found
    "UDAPI1009": SymbolNotFound, "UDAPI1011": SymbolNotFound, "UDAPI1087": SymbolNotFound,  # bad instrument key
}
AUTH_EXPIRED = frozenset({"UDAPI100050"})  # invalid (expired or revoked) token


def hft_url() -> str:
    return str(getattr(settings, "UPSTOX_HFT_URL", "") or DEFAULT_HFT_URL)


def instruments_url() -> str:
    return str(getattr(settings, "UPSTOX_INSTRUMENTS_URL", "") or DEFAULT_INSTRUMENTS_URL)


def algo_name() -> str:
    return str(getattr(settings, "UPSTOX_ALGO_NAME", "") or DEFAULT_ALGO_NAME)


def close() -> None:
    """Drop the pooled client (tests that change UPSTOX_BASE_URL, worker shutdown)."""
    HTTP.close()


def first_error(body: object) -> tuple[str, str]:
    """(error code, message) of an error answer's first entry; empty when it has none."""
    if not isinstance(body, dict):
        return "", ""
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        entry = errors[0]
        code = entry.get("error_code") or entry.get("errorCode") or ""
        return str(code), str(entry.get("message") or "")
    return "", str(body.get("message") or "")


def _body(response: httpx.Response) -> dict[str, Any]:
    check_status(response, BROKER)
    if response.status_code in (401, 403):
        _, message = first_error(_maybe_json(response))
        raise BrokerAuthExpired(f"{SESSION_EXPIRED} ({message or f'HTTP {response.status_code}'})")
    body = json_of(response, BROKER)
    if not isinstance(body, dict):
        raise BrokerUnavailable(f"{BROKER} answered JSON that is not an object")
    return body


def _maybe_json(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def classify(response: httpx.Response) -> Any:
    """The ``data`` of a successful answer, or the contract error this answer means. The
    broker's message passes through verbatim."""
    body = _body(response)
    if response.is_success and body.get("status") == "success":
        return body.get("data")
    code, message = first_error(body)
    if code in AUTH_EXPIRED:
        raise BrokerAuthExpired(SESSION_EXPIRED)
    error = NOT_FOUND.get(code, BrokerRejected)
    raise error(message or f"{BROKER} refused the request (HTTP {response.status_code})")


def classify_login(response: httpx.Response) -> dict[str, Any]:
    """The token exchange: its reply is flat (no ``data``); any refusal is the broker's text
    (a 401 here is a bad code or secret, not an expired session)."""
    check_status(response, BROKER)
    body = json_of(response, BROKER)
    if not isinstance(body, dict):
        raise BrokerUnavailable(f"{BROKER} answered JSON that is not an object")
    if response.is_success and body.get("status") != "error":
        return body
    _, message = first_error(body)
    raise BrokerRejected(message or f"{BROKER} refused the login (HTTP {response.status_code})")


class UpstoxClient:
    """Calls on behalf of one session (its token goes in the Authorization header)."""

    def __init__(self, credentials: BrokerCredentials | None) -> None:
        self.credentials = credentials

    def headers(self) -> dict[str, str]:
        credentials = self.credentials
        if credentials is None or not credentials.access_token:
            raise BrokerAuthExpired(SESSION_EXPIRED)
        if credentials.expires_at is not None and credentials.expires_at <= datetime.now(UTC):
            raise BrokerAuthExpired(SESSION_EXPIRED)  # past 03:30 IST: never send a stale token
        return {"Authorization": f"Bearer {credentials.access_token}"}

    def request(self, method: str, url: str, *, json: object = None, params: Mapping[str, str] | None = None,
                extra_headers: Mapping[str, str] | None = None) -> Any:
        headers = self.headers()
        if extra_headers:
            headers.update(extra_headers)
        return HTTP.request(method, url, classify=classify, json=json, params=params, headers=headers)

    def get(self, path: str, **params: str) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, payload: object) -> Any:
        return self.request("POST", path, json=payload)

    def order_write(self, method: str, path: str, *, payload: object = None,
                    params: Mapping[str, str] | None = None) -> Any:
        """An order call: to the low-latency host, named by the algo that sends it."""
        return self.request(method, f"{hft_url()}{path}", json=payload, params=params,
                            extra_headers={"X-Algo-Name": algo_name()})
