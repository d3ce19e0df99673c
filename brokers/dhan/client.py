"""Dhan's HTTP edge: the shared broker HTTP path (brokers/http.py: one pooled client per
process, explicit timeouts, egress address, transport failures, 429 and 5xx) plus Dhan's
own error shapes, classified here, once, into the contract's errors.

Dhan answers a refused trading call with a non-2xx status and
``{"errorType", "errorCode": "DH-9xx", "errorMessage"}``; its data APIs (quotes, charts)
with ``{"status": "failed", "data": {"<8xx>": "<message>"}}``. Messages go back verbatim."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from brokers.base import (
    BrokerAuthExpired,
    BrokerCredentials,
    BrokerError,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
)
from brokers.http import BrokerHTTP, check_status, json_of, retry_after

BROKER = "Dhan"
DEFAULT_BASE_URL = "https://api.dhan.co/v2"
# The instrument dump is public and lives on another host (no auth).
SCRIP_MASTER_URL = "https://images.dhan.co/api-data/api-scrip-master.csv"
HTTP = BrokerHTTP(BROKER, base_url_setting="DHAN_BASE_URL", default_base_url=DEFAULT_BASE_URL,
                  headers={"Accept": "application/json"})

SESSION_EXPIRED = "Broker session expired, please log in to Dhan again"

# Trading-API codes (DH-9xx) and data-API codes (8xx) -> what they mean to us.
_AUTH = {"DH-901", "807", "808", "809", "810"}
_RATE = {"DH-904", "805"}
_UNAVAILABLE = {"DH-908", "DH-909", "DH-910", "800"}


class DhanRejected(BrokerRejected):
    """Dhan refused the request; ``code`` is its error code (DH-9xx or a data-API 8xx)."""

    def __init__(self, message: str, *, code: str = "", orderid: str = "") -> None:
        super().__init__(message, orderid=orderid)
        self.code = code


def close() -> None:
    """Drop the pooled client (tests that change DHAN_BASE_URL, worker shutdown)."""
    HTTP.close()


def _error_of(body: object) -> tuple[str, str]:
    """(code, message) of one of Dhan's error bodies, ("", "") when it is not one."""
    if not isinstance(body, dict):
        return "", ""
    if body.get("errorCode") or body.get("errorMessage"):
        return str(body.get("errorCode") or ""), str(body.get("errorMessage") or body.get("errorType") or "")
    if str(body.get("status", "")).lower() in ("failed", "failure", "error"):
        data = body.get("data")
        if isinstance(data, dict) and data:
            code, message = next(iter(data.items()))
            return str(code), str(message)
        return str(body.get("errorCode", "")), str(body.get("remarks") or body.get("message") or "")
    return "", ""


def raise_for(code: str, message: str, status: int) -> None:
    """Raise the contract error a Dhan error code (or, without one, an HTTP status) means."""
    text = message or f"Dhan refused the request (HTTP {status})"
    if code in _AUTH or (not code and status in (401, 403)):
        raise BrokerAuthExpired(f"{SESSION_EXPIRED} ({text})" if message else SESSION_EXPIRED)
    if code in _RATE:
        raise BrokerRateLimited(text, retry_after=2.0)
    if code in _UNAVAILABLE:
        raise BrokerUnavailable(text)
    if status in (401, 403) and code != "DH-902":
        raise BrokerAuthExpired(f"{SESSION_EXPIRED} ({text})")
    raise DhanRejected(text, code=code)


def classify(response: httpx.Response) -> Any:
    """The decoded body of a successful answer, or the contract error this answer means."""
    if response.status_code == 429:
        raise BrokerRateLimited(f"{BROKER} rate limit reached", retry_after=retry_after(response))
    if response.status_code >= 500:
        # Dhan's 5xx may still carry its error body (DH-908..910): say what it says.
        try:
            code, message = _error_of(response.json())
        except ValueError:
            code, message = "", ""
        if message and code not in _AUTH and code not in _RATE:
            raise BrokerUnavailable(f"{BROKER}: {message}")
        check_status(response, BROKER)
    if response.is_success and not response.content.strip():
        return {}  # 202 Accepted without a body (a cancel)
    body = json_of(response, BROKER)
    code, message = _error_of(body)
    if not response.is_success or code:
        raise_for(code, message, response.status_code)
    return body


@functools.lru_cache(maxsize=256)
def client_id_of(token: str) -> str:
    """The ``dhanClientId`` claim of a Dhan access token (a JWT), "" when it has none.
    Read without verifying the signature: it only names the account, Dhan checks the token."""
    return str(jwt_claims(token).get("dhanClientId", "") or "")


def jwt_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


class DhanClient:
    """Calls on behalf of one session: ``access-token`` and ``client-id`` headers, and the
    account's ``dhanClientId`` for the bodies that carry it."""

    def __init__(self, credentials: BrokerCredentials | None) -> None:
        self.credentials = credentials

    @property
    def client_id(self) -> str:
        credentials = self.credentials
        if credentials is None:
            return ""
        # The token's own account first: the header and bodies must name the account it belongs to.
        return client_id_of(credentials.access_token) or credentials.client_id

    def headers(self) -> dict[str, str]:
        credentials = self.credentials
        if credentials is None or not credentials.access_token:
            raise BrokerAuthExpired(SESSION_EXPIRED)
        if credentials.expires_at is not None and credentials.expires_at <= datetime.now(UTC):
            raise BrokerAuthExpired(SESSION_EXPIRED)  # a stale token never reaches Dhan
        return {"access-token": credentials.access_token, "client-id": self.client_id}

    def request(self, method: str, path: str, *, json: object = None, params: dict[str, str] | None = None) -> Any:
        return HTTP.request(method, path, classify=classify, json=json, params=params, headers=self.headers())

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, payload: object) -> Any:
        return self.request("POST", path, json=payload)

    def put(self, path: str, payload: object) -> Any:
        return self.request("PUT", path, json=payload)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


def download_text(url: str) -> str:
    """A public file (the scrip master CSV) as text, through the same pooled client."""

    def read(response: httpx.Response) -> str:
        check_status(response, BROKER)
        if not response.is_success:
            raise BrokerUnavailable(f"{BROKER} instrument list answered HTTP {response.status_code}")
        return response.text

    return HTTP.request("GET", url, classify=read, timeout=httpx.Timeout(60.0, connect=5.0))


__all__ = ["BROKER", "BrokerError", "DhanClient", "DhanRejected", "classify", "client_id_of", "close", "download_text"]
