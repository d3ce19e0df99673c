"""Zerodha's HTTP edge: the shared broker HTTP path (brokers/http.py: one pooled client per
process, explicit timeouts, egress address, transport failures, 429 and 5xx) plus Kite's
own error shape, classified here, once, into the contract's errors.

Kite answers ``{"status": "error", "message": ..., "error_type": ...}``: a 403 or a
TokenException is an expired session; any other refusal's message goes to the trader
verbatim. Every call carries ``X-Kite-Version: 3`` and ``Authorization: token
api_key:access_token``; bodies are form-encoded except the margin calculator's JSON."""

from __future__ import annotations

import gzip
from typing import Any

import httpx

from brokers.base import (
    BrokerAuthExpired,
    BrokerCredentials,
    BrokerError,
    BrokerRejected,
    BrokerUnavailable,
    OrderNotFound,
)
from brokers.http import BrokerHTTP, check_status, json_of

DEFAULT_BASE_URL = "https://api.kite.trade"
BROKER = "Zerodha"
VERSION_HEADER = {"X-Kite-Version": "3"}
HTTP = BrokerHTTP(BROKER, base_url_setting="ZERODHA_BASE_URL", default_base_url=DEFAULT_BASE_URL,
                  headers=VERSION_HEADER)
# The instrument dump is a few MB of CSV: give it longer to arrive than an order.
DUMP_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=5.0, pool=5.0)
EXPIRED = "Zerodha session expired, please log in to Zerodha again"


def close() -> None:
    """Drop the pooled client (tests that change ZERODHA_BASE_URL, worker shutdown)."""
    HTTP.close()


def _refusal(response: httpx.Response, body: Any) -> BrokerError:
    message = body.get("message") if isinstance(body, dict) else None
    error_type = body.get("error_type") if isinstance(body, dict) else None
    if response.status_code == 403 or error_type == "TokenException" or response.status_code == 401:
        return BrokerAuthExpired(EXPIRED)
    text = str(message or f"Zerodha refused the request (HTTP {response.status_code})")
    if response.status_code == 404 and error_type in (None, "GeneralException", "DataException"):
        return OrderNotFound(text)
    return BrokerRejected(text)


def _body_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def classify(response: httpx.Response) -> Any:
    """The ``data`` of a successful answer, or the contract error this answer means."""
    check_status(response, BROKER)
    if response.status_code in (401, 403):
        raise _refusal(response, _body_or_none(response))
    body = json_of(response, BROKER)
    if not isinstance(body, dict):
        raise BrokerUnavailable("Zerodha answered JSON that is not an object")
    if response.is_success and body.get("status") == "success":
        return body.get("data")
    raise _refusal(response, body)


def classify_text(response: httpx.Response) -> str:
    """The instrument dump: CSV (gzipped at rest; httpx undoes a gzip Content-Encoding, a
    gzip body sent without one is opened here)."""
    check_status(response, BROKER)
    if not response.is_success:
        raise _refusal(response, _body_or_none(response))
    content = response.content
    if content[:2] == b"\x1f\x8b":
        try:
            content = gzip.decompress(content)
        except OSError:
            raise BrokerUnavailable("Zerodha's instrument dump is a broken gzip file") from None
    return content.decode("utf-8", "replace")


class ZerodhaClient:
    """Calls on behalf of one session."""

    def __init__(self, credentials: BrokerCredentials | None) -> None:
        self.credentials = credentials

    def _headers(self) -> dict[str, str]:
        credentials = self.credentials
        if credentials is None or not credentials.access_token:
            raise BrokerAuthExpired(EXPIRED)
        return {"Authorization": f"token {credentials.api_key}:{credentials.access_token}"}

    def request(self, method: str, path: str, *, authenticated: bool = True, **kwargs: Any) -> Any:
        headers = self._headers() if authenticated else {}
        return HTTP.request(method, path, classify=classify, headers=headers, **kwargs)

    def get(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, form: Any) -> Any:
        return self.request("POST", path, data=form)

    def put(self, path: str, form: Any) -> Any:
        return self.request("PUT", path, data=form)

    def delete(self, path: str, params: Any = None) -> Any:
        return self.request("DELETE", path, params=params)

    def post_json(self, path: str, payload: Any, params: Any = None) -> Any:
        return self.request("POST", path, json=payload, params=params)

    def dump(self, path: str = "/instruments") -> str:
        return HTTP.request("GET", path, classify=classify_text, headers=self._headers(), timeout=DUMP_TIMEOUT)
