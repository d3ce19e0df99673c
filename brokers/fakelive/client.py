"""FakeLive's HTTP edge: one pooled httpx.Client per process, explicit timeouts, and every
failure classified here, once, into the contract's errors (callers never see httpx)."""

from __future__ import annotations

import threading
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

# A placement that times out has an UNKNOWN outcome: it is never retried here.
TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=5.0, pool=3.0)
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10)

_client: httpx.Client | None = None
_client_lock = threading.Lock()


def http() -> httpx.Client:
    """The process's one pooled client (built on first use, so settings are read late)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = httpx.Client(base_url=settings.FAKELIVE_BASE_URL, timeout=TIMEOUT, limits=LIMITS)
    return _client


def close() -> None:
    """Drop the pooled client (tests that change FAKELIVE_BASE_URL, worker shutdown)."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None


_NOT_FOUND = {"OrderNotFound": OrderNotFound, "SymbolNotFound": SymbolNotFound}


def classify(response: httpx.Response) -> Any:
    """The ``data`` of a successful answer, or the contract error this answer means."""
    if response.status_code == 429:
        raise BrokerRateLimited("Broker rate limit reached", retry_after=_retry_after(response))
    if response.status_code >= 500:
        raise BrokerUnavailable(f"FakeLive answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise BrokerUnavailable(f"FakeLive answered unreadable JSON (HTTP {response.status_code})") from None
    if not isinstance(body, dict):
        raise BrokerUnavailable("FakeLive answered JSON that is not an object")
    if response.status_code in (401, 403) or body.get("error_type") == "TokenException":
        raise BrokerAuthExpired("Broker session expired, please log in to the broker again")
    if response.is_success and body.get("status") == "success":
        return body.get("data")
    message = str(body.get("message") or f"FakeLive refused the request (HTTP {response.status_code})")
    error: type[BrokerError] = _NOT_FOUND.get(str(body.get("error_type")), BrokerRejected)
    raise error(message)


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


class FakeLiveClient:
    """Calls on behalf of one session (its token goes in the Authorization header)."""

    def __init__(self, credentials: BrokerCredentials | None) -> None:
        self.credentials = credentials

    def _headers(self) -> dict[str, str]:
        if self.credentials is None or not self.credentials.access_token:
            raise BrokerAuthExpired("Broker session expired, please log in to the broker again")
        return {"Authorization": f"token {self.credentials.api_key}:{self.credentials.access_token}"}

    def request(self, method: str, path: str, *, json: object = None, params: dict[str, str] | None = None,
                authenticated: bool = True) -> Any:
        headers = self._headers() if authenticated else {}
        try:
            response = http().request(method, path, json=json, params=params, headers=headers)
        except httpx.TimeoutException:
            raise BrokerUnavailable(f"FakeLive did not answer {method} {path} in time") from None
        except httpx.HTTPError as failure:
            raise BrokerUnavailable(f"FakeLive unreachable: {type(failure).__name__}") from None
        return classify(response)

    def get(self, path: str, **params: str) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, payload: object) -> Any:
        return self.request("POST", path, json=payload)

    def put(self, path: str, payload: object) -> Any:
        return self.request("PUT", path, json=payload)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)
