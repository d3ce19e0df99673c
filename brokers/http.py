"""The one HTTP path every live broker package uses (plain httpx, no vendor SDK).

Each broker gets one ``BrokerHTTP``: a pooled ``httpx.Client`` per process, built on first
use (settings are read late), with explicit timeouts and no transport retries, since a
placement that timed out has an UNKNOWN outcome and must never be sent twice. Orders leave
from the deployment's registered static IP when ``BROKER_EGRESS_IP`` names a local address
to bind, or through ``BROKER_EGRESS_PROXY`` (SEBI's 2026 retail-algo rules: brokers accept
orders only from the IP the client registered).

What is the same for every broker is classified here, once: a timeout or a broken
connection is ``BrokerUnavailable``, HTTP 429 is ``BrokerRateLimited`` (with Retry-After),
5xx is ``BrokerUnavailable``, a body that is not JSON is ``BrokerUnavailable``. What each
broker says in its own error shape (a rejection text, an expired token) the package reads
in its ``classify`` function and passes through verbatim."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
from django.conf import settings

from brokers.base import BrokerRateLimited, BrokerUnavailable

TIMEOUT = httpx.Timeout(connect=3.0, read=10.0, write=5.0, pool=3.0)
LIMITS = httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=60.0)

Answer = TypeVar("Answer")

_every: list[BrokerHTTP] = []
_every_lock = threading.Lock()


def egress() -> tuple[str | None, str | None]:
    """(local address to bind, proxy URL) from the settings; either may be unset."""
    address = getattr(settings, "BROKER_EGRESS_IP", "") or None
    proxy = getattr(settings, "BROKER_EGRESS_PROXY", "") or None
    return address, proxy


class BrokerHTTP:
    """One broker's pooled client in this process. ``base_url_setting`` names the setting a
    deployment (or a test) may use to point the package elsewhere."""

    def __init__(self, broker: str, *, base_url_setting: str, default_base_url: str,
                 timeout: httpx.Timeout = TIMEOUT, limits: httpx.Limits = LIMITS,
                 headers: Mapping[str, str] | None = None) -> None:
        self.broker = broker
        self.base_url_setting = base_url_setting
        self.default_base_url = default_base_url
        self.timeout = timeout
        self.limits = limits
        self.headers = dict(headers or {})
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        with _every_lock:
            _every.append(self)

    @property
    def base_url(self) -> str:
        return str(getattr(settings, self.base_url_setting, "") or self.default_base_url)

    def client(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    address, proxy = egress()
                    transport = httpx.HTTPTransport(local_address=address, limits=self.limits, retries=0,
                                                    proxy=proxy)
                    self._client = httpx.Client(base_url=self.base_url, timeout=self.timeout,
                                                transport=transport, headers=self.headers)
                client = self._client
        return client

    def close(self) -> None:
        """Drop the pooled client (tests that change the base URL, worker shutdown)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
            self._client = None

    def request(self, method: str, url: str, *, classify: Callable[[httpx.Response], Answer],
                **kwargs: Any) -> Answer:
        """Send one request; transport failures become BrokerUnavailable, and the answer goes
        through ``classify`` (the package's reading of its broker's body)."""
        try:
            response = self.client().request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise BrokerUnavailable(f"{self.broker} did not answer {method} {_path(url)} in time") from None
        except httpx.HTTPError as failure:
            raise BrokerUnavailable(f"{self.broker} unreachable ({type(failure).__name__}): check this "
                                    "machine's internet connection and the broker's status") from None
        return classify(response)


def _path(url: str) -> str:
    return url.split("?", 1)[0]


def close_all() -> None:
    with _every_lock:
        clients = list(_every)
    for client in clients:
        client.close()


def retry_after(response: httpx.Response, default: float = 1.0) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", default)))
    except ValueError:
        return default


def check_status(response: httpx.Response, broker: str) -> None:
    """What every broker means the same way: 429 is a rate limit, 5xx is unavailable."""
    if response.status_code == 429:
        raise BrokerRateLimited(f"{broker} rate limit reached", retry_after=retry_after(response))
    if response.status_code >= 500:
        raise BrokerUnavailable(f"{broker} answered HTTP {response.status_code}")


def json_of(response: httpx.Response, broker: str) -> Any:
    """The decoded JSON body; an unreadable body is BrokerUnavailable (its outcome unknown)."""
    try:
        return response.json()
    except ValueError:
        raise BrokerUnavailable(f"{broker} answered unreadable JSON (HTTP {response.status_code})") from None
