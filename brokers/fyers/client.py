"""Fyers API v3's HTTP edge: the shared broker HTTP path (brokers/http.py: one pooled client
per process, explicit timeouts, the registered egress address, transport failures, 429 and
5xx) plus Fyers' own answer shape, classified here, once, into the contract's errors.

Every Fyers answer is ``{"s": "ok"|"error", "code": <int>, "message": "...", ...}``; ``s``
is checked even on HTTP 200. Errors carry a negative ``code``: -8/-15/-16/-17 are a dead
token, -352 an invalid App ID (all mean "log in again"), -429 the rate limit, -51 an unknown
order id; any other refusal (``-50`` bad input, ``-99`` order rejected, RMS texts) passes
its ``message`` through verbatim.

Orders must leave from the static IP registered against the App ID since 1 Apr 2026
(SEBI's retail-algo rules as Fyers applies them): set ``BROKER_EGRESS_IP`` (a local address
to bind) or ``BROKER_EGRESS_PROXY`` for the deployment; BrokerHTTP does the rest."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from brokers.base import (
    BrokerAuthExpired,
    BrokerCredentials,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    OrderNotFound,
)
from brokers.http import BrokerHTTP, check_status, json_of, retry_after

log = logging.getLogger(__name__)

BROKER = "Fyers"
DEFAULT_BASE_URL = "https://api-t1.fyers.in"
# The symbol master is public (no login) and lives on its own host.
DEFAULT_PUBLIC_URL = "https://public.fyers.in"
HTTP = BrokerHTTP(BROKER, base_url_setting="FYERS_BASE_URL", default_base_url=DEFAULT_BASE_URL,
                  headers={"Content-Type": "application/json"})
PUBLIC = BrokerHTTP(f"{BROKER} symbol master", base_url_setting="FYERS_PUBLIC_URL",
                    default_base_url=DEFAULT_PUBLIC_URL,
                    timeout=httpx.Timeout(connect=5.0, read=60.0, write=5.0, pool=5.0))

SESSION_EXPIRED = "Broker session expired, please log in to the broker again"
TOKEN_CODES = frozenset({-8, -15, -16, -17, -352})
RATE_LIMIT_CODE = -429
UNKNOWN_ORDER_CODE = -51
# "Order sent, no acknowledgement came back": its outcome is unknown (look it up, never resend).
NO_ACK_CODE = 201


def close() -> None:
    """Drop the pooled clients (tests that change the base URLs, worker shutdown)."""
    HTTP.close()
    PUBLIC.close()


def _code(body: dict[str, Any]) -> int | None:
    try:
        return int(body.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def classify(response: httpx.Response) -> dict[str, Any]:
    """The whole body of a successful answer, or the contract error this answer means."""
    check_status(response, BROKER)
    if response.status_code in (401, 403):
        # Logged with Fyers' own words: a refusal for another reason (an order from an IP not
        # registered against the App ID, an app without order permission) shows here.
        log.warning("Fyers answered HTTP %s: %s", response.status_code, response.text[:200])
        raise BrokerAuthExpired(SESSION_EXPIRED)
    body = json_of(response, BROKER)
    if not isinstance(body, dict):
        raise BrokerUnavailable(f"{BROKER} answered JSON that is not an object")
    code = _code(body)
    if code in TOKEN_CODES:
        raise BrokerAuthExpired(SESSION_EXPIRED)
    if code == RATE_LIMIT_CODE:
        raise BrokerRateLimited(f"{BROKER} rate limit reached", retry_after=retry_after(response))
    # History answers "no_data" (with an empty candle list) for a range without bars.
    if body.get("s") in ("ok", "no_data") and response.is_success:
        return body
    if code == NO_ACK_CODE:
        return body  # not a refusal: the caller treats it as an unknown outcome
    message = str(body.get("message") or f"{BROKER} refused the request (HTTP {response.status_code})")
    if code == UNKNOWN_ORDER_CODE:
        raise OrderNotFound(message)
    raise BrokerRejected(message)


def authorization(credentials: BrokerCredentials | None) -> str:
    """``<app_id>:<access_token>`` (no "Bearer"), the header of every call after login."""
    if credentials is None or not credentials.access_token or not credentials.api_key:
        raise BrokerAuthExpired(SESSION_EXPIRED)
    return f"{credentials.api_key}:{credentials.access_token}"


class FyersClient:
    """Calls on behalf of one session."""

    def __init__(self, credentials: BrokerCredentials | None) -> None:
        self.credentials = credentials

    def request(self, method: str, path: str, *, json: object = None, params: dict[str, str] | None = None,
                authenticated: bool = True) -> dict[str, Any]:
        headers = {"Authorization": authorization(self.credentials)} if authenticated else {}
        return HTTP.request(method, path, classify=classify, json=json, params=params, headers=headers)

    def get(self, path: str, **params: str) -> dict[str, Any]:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, payload: object) -> dict[str, Any]:
        return self.request("POST", path, json=payload)

    def patch(self, path: str, payload: object) -> dict[str, Any]:
        return self.request("PATCH", path, json=payload)

    def delete(self, path: str, payload: object) -> dict[str, Any]:
        return self.request("DELETE", path, json=payload)


def symbol_master(segment: str) -> str:
    """One segment's symbol-master CSV (``NSE_CM``, ``NSE_FO``, ...), as text."""

    def text(response: httpx.Response) -> str:
        check_status(response, BROKER)
        if not response.is_success:
            raise BrokerUnavailable(f"{BROKER} symbol master {segment} answered HTTP {response.status_code}")
        return response.text

    return PUBLIC.request("GET", f"/sym_details/{segment}.csv", classify=text)
