"""Broker packages by name: each registers an adapter factory (and its login, when a
trader logs in there) and the registry builds adapters from credentials the caller
passes in. Which broker serves a user is decided above, in accounts (accounts/brokers.py):
this module reads no app of ours."""

from __future__ import annotations

from typing import Any, Protocol

from brokers.base import BrokerAdapter, BrokerCredentials, BrokerNotAvailable, Capabilities, OrderUpdateSource
from brokers.login import BrokerLogin
from brokers.order_stream import OrderStreamFactory
from brokers.postback import OrderPostback
from brokers.streaming import FeedSpec

__all__ = ["SANDBOX", "AdapterFactory", "BrokerNotAvailable", "build", "capabilities_of", "feed_for", "is_paper",
           "login_for", "order_stream_for", "postback_for", "register", "registered", "shares_market_data"]

SANDBOX = "sandbox"

class AdapterFactory(Protocol):
    """An adapter class: ``factory(user, credentials or None)`` builds one session's adapter.
    ``user`` is whatever the caller scopes the session by (the sandbox keeps its books per
    user); brokers never read its fields. Capabilities are declared on the class, so they
    can be read before any session exists."""

    capabilities: Capabilities

    def __call__(self, user: Any, credentials: BrokerCredentials | None, /) -> BrokerAdapter: ...


_factories: dict[str, AdapterFactory] = {}
_logins: dict[str, BrokerLogin] = {}
_feeds: dict[str, FeedSpec] = {}
_postbacks: dict[str, OrderPostback] = {}
_order_streams: dict[str, OrderStreamFactory] = {}


def register(name: str, factory: AdapterFactory, *, login: BrokerLogin | None = None,
             feed: FeedSpec | None = None, postback: OrderPostback | None = None,
             order_stream: OrderStreamFactory | None = None) -> None:
    """Register a broker package under its slug (done in the package's AppConfig.ready).
    ``feed`` declares what the feed process runs for it (its market stream, other loops);
    ``postback`` reads its order postbacks (brokers whose capabilities say POSTBACK);
    ``order_stream`` builds one session's order-update socket (brokers that say PUSH).
    Registering a name twice with a different factory is a bug."""
    existing = _factories.get(name)
    if existing is not None and existing is not factory:
        raise ValueError(f"broker {name!r} is already registered")
    _factories[name] = factory
    if login is not None:
        _logins[name] = login
    if feed is not None:
        _feeds[name] = feed
    if postback is not None:
        _postbacks[name] = postback
    if order_stream is not None:
        _order_streams[name] = order_stream


def feed_for(name: str) -> FeedSpec:
    """What the feed process runs for broker ``name``. Its market stream only when its
    capabilities declare a market feed; a broker that declared nothing gets nothing."""
    factory = _factories.get(name)
    spec = _feeds.get(name, FeedSpec())
    if factory is None or not factory.capabilities.market_feed:
        return FeedSpec(services=spec.services)
    return spec


def order_stream_for(name: str) -> OrderStreamFactory | None:
    """Broker ``name``'s order-update socket, when its capabilities say its orders are pushed
    (``OrderUpdateSource.PUSH``) and the package registered one; else None."""
    factory = _factories.get(name)
    if factory is None or factory.capabilities.order_updates != OrderUpdateSource.PUSH:
        return None
    return _order_streams.get(name)


def shares_market_data(name: str) -> bool:
    """Whether one stream of broker ``name`` serves every user of it (its ticks are
    published under the broker's name), rather than one per logged-in session."""
    spec = feed_for(name)
    return spec.stream is not None and spec.shared


def registered() -> list[str]:
    return sorted(_factories)


def is_paper(name: str) -> bool:
    """Whether the broker registered as ``name`` is a simulated exchange (its declared
    capabilities say so); an unknown name is not."""
    factory = _factories.get(name)
    return factory is not None and factory.capabilities.paper


def build(name: str, user: object, credentials: BrokerCredentials | None) -> BrokerAdapter:
    """The adapter of broker ``name`` serving ``user`` with ``credentials`` (None: not logged in)."""
    factory = _factories.get(name)
    if factory is None:
        raise BrokerNotAvailable(f"Broker '{name}' is not available")
    return factory(user, credentials)


def login_for(name: str) -> BrokerLogin:
    """How a trader logs in at broker ``name``; a broker without a login (the sandbox) has none."""
    login = _logins.get(name)
    if login is None:
        raise BrokerNotAvailable(f"Broker '{name}' is not available")
    return login


def capabilities_of(name: str) -> Capabilities:
    """What broker ``name`` declares it can do, read before any session exists."""
    factory = _factories.get(name)
    if factory is None:
        raise BrokerNotAvailable(f"Broker '{name}' is not available")
    return factory.capabilities


def postback_for(name: str) -> OrderPostback:
    """How broker ``name``'s order postbacks are read and verified; brokers without them have none."""
    postback = _postbacks.get(name)
    if postback is None:
        raise BrokerNotAvailable(f"Broker '{name}' is not available")
    return postback
