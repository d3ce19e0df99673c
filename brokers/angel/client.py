"""Angel One's HTTP edge: the shared broker HTTP path (brokers/http.py) plus SmartAPI's
headers and its error shapes, classified here, once, into the contract's errors.

Every call, login included, carries X-PrivateKey (the app's API key), X-UserType USER,
X-SourceID WEB and the client's local IP, public IP and MAC address. The answer is an
envelope ``{"status", "message", "errorcode", "data"}``, often with HTTP 200 even on an
error, sometimes spelt ``{"success": false, "errorCode": ...}`` or with ``"status": "false"``;
a rate-limited call gets HTTP 403 (or 429) with the plain-text body "Access denied because
of exceeding access rate"."""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from brokers.base import (
    BrokerAuthExpired,
    BrokerCredentials,
    BrokerError,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    OrderNotFound,
    SymbolNotFound,
)
from brokers.http import BrokerHTTP, check_status, egress, json_of, retry_after

DEFAULT_BASE_URL = "https://apiconnect.angelone.in"
HTTP = BrokerHTTP("Angel One", base_url_setting="ANGEL_BASE_URL", default_base_url=DEFAULT_BASE_URL)
BROKER = "Angel One"
EXPIRED = "Angel One session expired, please log in to the broker again"
RATE_LIMIT_TEXT = "exceeding access rate"

# Session errors: the token is invalid, expired or missing; the refresh token too; AMX session gone.
AUTH_CODES = frozenset({"AG8001", "AG8002", "AG8003", "AB8050", "AB8051", "AB1010", "AB1011"})
NOT_FOUND: dict[str, type[BrokerError]] = {"AB1013": OrderNotFound, "AB1009": SymbolNotFound}
# "Something went wrong" / internal errors: on an order call the order may still exist at
# Angel, so its outcome is unknown (reconciled by its tag), never a rejection.
UNKNOWN_OUTCOME = frozenset({"AB1004", "AB2000", "AB2001"})

PATHS = {
    "login": "/rest/auth/angelbroking/user/v1/loginByPassword",
    "refresh": "/rest/auth/angelbroking/jwt/v1/generateTokens",
    "logout": "/rest/secure/angelbroking/user/v1/logout",
    "profile": "/rest/secure/angelbroking/user/v1/getProfile",
    "place": "/rest/secure/angelbroking/order/v1/placeOrder",
    "modify": "/rest/secure/angelbroking/order/v1/modifyOrder",
    "cancel": "/rest/secure/angelbroking/order/v1/cancelOrder",
    "orders": "/rest/secure/angelbroking/order/v1/getOrderBook",
    "details": "/rest/secure/angelbroking/order/v1/details/",
    "trades": "/rest/secure/angelbroking/order/v1/getTradeBook",
    "positions": "/rest/secure/angelbroking/order/v1/getPosition",
    "holdings": "/rest/secure/angelbroking/portfolio/v1/getAllHolding",
    "funds": "/rest/secure/angelbroking/user/v1/getRMS",
    "quote": "/rest/secure/angelbroking/market/v1/quote",
    "ltp": "/rest/secure/angelbroking/order/v1/getLtpData",
    "candles": "/rest/secure/angelbroking/historical/v1/getCandleData",
    "margin": "/rest/secure/angelbroking/margin/v1/batch",
}
ORDER_PATHS = frozenset({PATHS["place"], PATHS["modify"], PATHS["cancel"]})


def client_headers(api_key: str) -> dict[str, str]:
    """The headers SmartAPI wants on every call. The three client-address headers carry the
    deployment's registered egress IP when set (ANGEL_CLIENT_LOCAL_IP / _PUBLIC_IP / _MAC
    override them); Angel accepts placeholder values there, and judges the static IP by the
    connection's source address, which BROKER_EGRESS_IP / BROKER_EGRESS_PROXY decide."""
    address, _ = egress()
    return {
        "Content-Type": "application/json", "Accept": "application/json", "X-UserType": "USER",
        "X-SourceID": "WEB",
        "X-ClientLocalIP": str(getattr(settings, "ANGEL_CLIENT_LOCAL_IP", "") or address or "127.0.0.1"),
        "X-ClientPublicIP": str(getattr(settings, "ANGEL_CLIENT_PUBLIC_IP", "") or address or "127.0.0.1"),
        "X-MACAddress": str(getattr(settings, "ANGEL_CLIENT_MAC", "") or "00:00:00:00:00:00"),
        "X-PrivateKey": api_key,
    }


def _failed(body: dict[str, Any]) -> bool:
    for key in ("status", "success"):
        if key in body:
            value = body[key]
            return not (value is True or str(value).lower() == "true")
    return True


def classify(response: httpx.Response) -> Any:
    """The ``data`` of a successful answer, or the contract error this answer means."""
    if response.status_code in (403, 429) and RATE_LIMIT_TEXT in response.text.lower():
        raise BrokerRateLimited(f"{BROKER} rate limit reached", retry_after=retry_after(response))
    check_status(response, BROKER)
    if response.status_code in (401, 403):
        raise BrokerAuthExpired(EXPIRED)
    body = json_of(response, BROKER)
    if not isinstance(body, dict):
        raise BrokerUnavailable(f"{BROKER} answered JSON that is not an object")
    if not _failed(body) and response.is_success:
        return body.get("data")
    code = str(body.get("errorcode") or body.get("errorCode") or "")
    message = str(body.get("message") or f"{BROKER} refused the request (HTTP {response.status_code}, {code})")
    if code in AUTH_CODES:
        raise BrokerAuthExpired(EXPIRED)
    if code in UNKNOWN_OUTCOME and response.request.url.path in ORDER_PATHS:
        raise BrokerUnavailable(f"{BROKER} answered {code} ({message}): the order's outcome is unknown")
    raise NOT_FOUND.get(code, BrokerRejected)(message)


class AngelClient:
    """Calls on behalf of one session: its JWT in ``Authorization: Bearer``."""

    def __init__(self, credentials: BrokerCredentials | None) -> None:
        self.credentials = credentials

    def headers(self, *, authenticated: bool = True) -> dict[str, str]:
        credentials = self.credentials
        if credentials is None:
            raise BrokerAuthExpired(EXPIRED)
        headers = client_headers(credentials.api_key)
        if authenticated:
            if not credentials.access_token:
                raise BrokerAuthExpired(EXPIRED)
            headers["Authorization"] = f"Bearer {credentials.access_token}"
        return headers

    def request(self, method: str, path: str, *, json: object = None, authenticated: bool = True) -> Any:
        return HTTP.request(method, path, classify=classify, json=json,
                            headers=self.headers(authenticated=authenticated))

    def get(self, name: str, suffix: str = "") -> Any:
        return self.request("GET", PATHS[name] + suffix)

    def post(self, name: str, payload: object) -> Any:
        return self.request("POST", PATHS[name], json=payload)

    def download(self, url: str) -> Any:
        """A public file (the scrip master): no session needed, the answer is bare JSON."""
        def read(response: httpx.Response) -> Any:
            check_status(response, BROKER)
            if not response.is_success:
                raise BrokerUnavailable(f"{BROKER} answered HTTP {response.status_code} for its scrip master")
            return json_of(response, BROKER)

        return HTTP.request("GET", url, classify=read, timeout=httpx.Timeout(connect=5.0, read=60.0, write=5.0,
                                                                              pool=5.0))


def close() -> None:
    """Drop the pooled client (tests that change ANGEL_BASE_URL, worker shutdown)."""
    HTTP.close()
