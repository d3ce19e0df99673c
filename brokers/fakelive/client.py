"""FakeLive's HTTP edge: the shared broker HTTP path (brokers/http.py) plus FakeLive's own
error shape, classified here, once, into the contract's errors (callers never see httpx)."""

from __future__ import annotations

from typing import Any

import httpx

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

HTTP = BrokerHTTP("FakeLive", base_url_setting="FAKELIVE_BASE_URL", default_base_url="https://fakelive.invalid")


def close() -> None:
    """Drop the pooled client (tests that change FAKELIVE_BASE_URL, worker shutdown)."""
    HTTP.close()


_NOT_FOUND = {"OrderNotFound": OrderNotFound, "SymbolNotFound": SymbolNotFound}


def classify(response: httpx.Response) -> Any:
    """The ``data`` of a successful answer, or the contract error this answer means."""
    check_status(response, "FakeLive")
    body = json_of(response, "FakeLive")
    if not isinstance(body, dict):
        raise BrokerUnavailable("FakeLive answered JSON that is not an object")
    if response.status_code in (401, 403) or body.get("error_type") == "TokenException":
        raise BrokerAuthExpired("Broker session expired, please log in to the broker again")
    if response.is_success and body.get("status") == "success":
        return body.get("data")
    message = str(body.get("message") or f"FakeLive refused the request (HTTP {response.status_code})")
    error: type[BrokerError] = _NOT_FOUND.get(str(body.get("error_type")), BrokerRejected)
    raise error(message)


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
        return HTTP.request(method, path, classify=classify, json=json, params=params, headers=headers)

    def get(self, path: str, **params: str) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, payload: object) -> Any:
        return self.request("POST", path, json=payload)

    def put(self, path: str, payload: object) -> Any:
        return self.request("PUT", path, json=payload)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)
