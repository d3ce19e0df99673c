"""The feed process runs what broker packages declare: a live broker's stream per logged-in
session (here a fake broker package whose stream is in memory), published under that
session's owner, driven by what the bus wants, and stopped when the session ends."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import zmq
from django.utils import timezone

from accounts.models import BrokerCredential
from brokers import registry
from brokers.base import BrokerCredentials, BrokerOrder, Capabilities, OrderUpdateSource
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.models import Instrument
from brokers.signals import order_changed
from brokers.streaming import FeedService, FeedSpec
from brokers.tests.test_streaming import FakeStream
from marketdata.bus import Forwarder
from marketdata.stream import codec
from marketdata.stream.feeds import FeedSupervisor, start_services

BROKER = "fakestream"


class FakeStreamingAdapter:
    capabilities = Capabilities(exchanges=frozenset({Exchange.NSE}), market_feed=True)

    def __init__(self, user, credentials) -> None:
        raise AssertionError("the feed process builds streams, not adapters")


class NoFeedAdapter(FakeStreamingAdapter):
    capabilities = Capabilities(exchanges=frozenset({Exchange.NSE}), market_feed=False)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def streams(monkeypatch):
    """The fake broker registered with a per-session stream; the streams it built, by credentials."""
    built: list[tuple[object, FakeStream]] = []

    def stream(credentials):
        made = FakeStream([])
        built.append((credentials, made))
        return made

    monkeypatch.setitem(registry._factories, BROKER, FakeStreamingAdapter)
    monkeypatch.setitem(registry._feeds, BROKER, FeedSpec(stream=stream))
    return built


@pytest.fixture
def bus():
    xsub, xpub = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    forwarder = Forwarder(xsub, xpub)
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    assert forwarder.wait_ready()
    yield xsub, xpub
    forwarder.stop()
    thread.join(5)


def _until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_a_live_session_gets_its_own_stream_driven_by_the_bus_and_stopped_when_it_ends(
        streams, bus, transactional_db, market, user):
    xsub, xpub = bus
    sbin = Instrument.objects.get(broker="sandbox", exchange="NSE", symbol="SBIN")
    Instrument.objects.create(broker=BROKER, exchange="NSE", symbol="SBIN", brsymbol="SBIN-EQ", brexchange="NSE",
                              token="3045", name="SBIN", lotsize=1, tick_size=sbin.tick_size)
    credential = BrokerCredential(user=user, broker=BROKER, client_id="C1",
                                  token_expires_at=timezone.now() + timedelta(hours=1))
    credential.store(access_token="session-token")
    credential.save()
    owner = codec.owner_for(BROKER, user.pk, shared=False)
    assert owner == f"u{user.pk}"

    stop = threading.Event()
    supervisor = FeedSupervisor(address=xsub, refresh_seconds=0.1, sync_seconds=0.01,
                                runner_options={"pump_timeout": 0.01})
    runner = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    runner.start()
    subscriber = zmq.Context.instance().socket(zmq.SUB)
    try:
        assert _until(lambda: streams)
        credentials, stream = streams[0]
        assert (credentials.broker, credentials.access_token, credentials.client_id) == (
            BROKER, "session-token", "C1")
        subscriber.setsockopt(zmq.LINGER, 0)
        subscriber.setsockopt(zmq.SUBSCRIBE, codec.encode_topic(owner, "NSE", "SBIN"))
        subscriber.connect(xpub)
        assert subscriber.poll(10_000), "no tick of the session's stream reached the bus"
        topic, payload = subscriber.recv_multipart()
        assert codec.decode_topic(topic) == (owner, "NSE", "SBIN") and json.loads(payload)["ltp"] == 800.0
        assert [(s.exchange, s.symbol, s.token) for s in stream.subscribed[0]] == [("NSE", "SBIN", "3045")]

        subscriber.setsockopt(zmq.UNSUBSCRIBE, codec.encode_topic(owner, "NSE", "SBIN"))
        assert _until(lambda: [s.symbol for s in stream.unsubscribed] == ["SBIN"])

        BrokerCredential.objects.filter(pk=credential.pk).update(token_expires_at=timezone.now())
        assert _until(lambda: (BROKER, owner) not in supervisor.feeds)
        assert _until(lambda: stream.closes >= 1)
    finally:
        stop.set()
        runner.join(10)
        subscriber.close(linger=0)
    assert not runner.is_alive() and supervisor.feeds == {}


def test_a_fresh_login_replaces_the_sessions_stream(streams, db, user):
    sessions = []
    supervisor = FeedSupervisor(address="inproc://unused-bus", sessions=lambda brokers: list(sessions))
    first = registry.feed_for(BROKER)
    assert first.stream is not None and not first.shared
    sessions.append((user.pk, BrokerCredentials(broker=BROKER, access_token="one")))
    supervisor.refresh_sessions()
    feed = supervisor.feeds[(BROKER, f"u{user.pk}")]
    sessions[0] = (user.pk, BrokerCredentials(broker=BROKER, access_token="two"))
    supervisor.refresh_sessions()
    assert supervisor.feeds[(BROKER, f"u{user.pk}")] is not feed
    assert [credentials.access_token for credentials, _ in streams] == ["one", "two"]
    sessions.clear()
    supervisor.refresh_sessions()
    assert supervisor.feeds == {}


def test_a_broker_whose_capabilities_say_no_feed_gets_no_stream_but_keeps_its_services(monkeypatch):
    ran = threading.Event()
    service = FeedService("nofeed-loop", lambda stop: ran.set())
    monkeypatch.setitem(registry._factories, "nofeed", NoFeedAdapter)
    monkeypatch.setitem(registry._feeds, "nofeed", FeedSpec(stream=lambda credentials: FakeStream([]), shared=True,
                                                            services=lambda: [service]))
    assert registry.feed_for("nofeed").stream is None and not registry.shares_market_data("nofeed")
    stop = threading.Event()
    stop.set()
    for thread in start_services(stop):
        thread.join(5)
    assert ran.is_set()


def test_the_sandbox_declares_one_shared_stream_and_its_fill_engine():
    spec = registry.feed_for(registry.SANDBOX)
    assert spec.stream is not None and spec.shared and registry.shares_market_data(registry.SANDBOX)
    assert [service.name for service in spec.services()] == ["sandbox-ticks", "sandbox-poller"]
    assert codec.owner_for(registry.SANDBOX, 7, shared=True) == registry.SANDBOX


class PushingAdapter(FakeStreamingAdapter):
    capabilities = Capabilities(exchanges=frozenset({Exchange.NSE}), market_feed=False,
                                order_updates=OrderUpdateSource.PUSH)


class OneOrderSocket:
    """An order socket in memory that pushes one order on its first pump, then stays quiet."""

    def __init__(self, credentials) -> None:
        self.credentials = credentials
        self.sink = None
        self.pushed = False
        self.closed = threading.Event()

    def connect(self, sink) -> None:
        self.sink = sink

    def pump(self, timeout: float) -> bool:
        if not self.pushed:
            self.pushed = True
            self.sink(BrokerOrder(orderid="PUSH1", symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                                  quantity=Decimal(1), price=Decimal(0), trigger_price=Decimal(0),
                                  pricetype=PriceType.MARKET, product=Product.MIS, status=OrderStatus.COMPLETE,
                                  timestamp=timezone.now(), filled_quantity=Decimal(1), average_price=Decimal(800)))
            return True
        self.closed.wait(timeout)
        return False

    def close(self) -> None:
        self.closed.set()


def test_a_pushing_brokers_sessions_get_an_order_socket_whose_orders_become_order_changed(monkeypatch, db, user):
    built: list[OneOrderSocket] = []
    monkeypatch.setitem(registry._factories, "pusher", PushingAdapter)
    monkeypatch.setitem(registry._order_streams, "pusher", lambda credentials: built.append(
        OneOrderSocket(credentials)) or built[-1])
    heard: list[tuple[str, int, str]] = []

    def receiver(sender, user_id, order, **kwargs):
        heard.append((sender, user_id, order.orderid))

    order_changed.connect(receiver, weak=False)
    sessions = [(user.pk, BrokerCredentials(broker="pusher", access_token="one"))]
    supervisor = FeedSupervisor(address="inproc://unused-bus", sessions=lambda brokers: [
        session for session in sessions if session[1].broker in brokers])
    try:
        supervisor.refresh_order_streams()
        assert set(supervisor.order_streams) == {("pusher", user.pk)}
        assert _until(lambda: ("pusher", user.pk, "PUSH1") in heard)
        sessions.clear()  # the session ended: its socket closes
        supervisor.refresh_order_streams()
        assert supervisor.order_streams == {} and built[0].closed.is_set()
    finally:
        order_changed.disconnect(receiver)
        for key in list(supervisor.order_streams):
            supervisor._stop_orders(key)


def test_a_broker_that_polls_gets_no_order_socket_even_if_its_package_has_one(monkeypatch):
    monkeypatch.setitem(registry._factories, "poller", FakeStreamingAdapter)
    monkeypatch.setitem(registry._order_streams, "poller", OneOrderSocket)
    assert registry.order_stream_for("poller") is None


def test_a_tick_in_flight_when_a_symbol_is_let_go_does_not_hide_its_next_subscription(db, market):
    """The broker stream can deliver one more tick after the bus let the symbol go; the next
    subscription to that symbol must still reach the broker stream."""
    from brokers.base import Quote
    from marketdata.stream.publisher import BusFeed

    feed = BusFeed(broker="sandbox", owner="sandbox", stream=FakeStream([]), address=f"tcp://127.0.0.1:{_port()}")
    wanted: set[bytes] = set()
    feed.publisher.poll_subscriptions = lambda timeout_ms=0: None
    feed.publisher.wanted = wanted
    sent: list[bytes] = []
    feed.publisher.publish = lambda topic, payload: sent.append(topic)
    topic = codec.encode_topic("sandbox", "NSE", "SBIN")
    price = Decimal("800")
    quote = Quote(ltp=price, open=price, high=price, low=price, prev_close=price, volume=1, bid=price, ask=price)
    try:
        wanted.add(topic)
        feed.sync()
        assert [s.key for s in feed.runner.subscriptions()] == [("NSE", "SBIN")]
        feed.publish_tick("NSE", "SBIN", quote, None, timezone.now())
        assert sent == [topic]

        wanted.clear()
        feed.sync()
        assert feed.runner.subscriptions() == []
        feed.publish_tick("NSE", "SBIN", quote, None, timezone.now())  # late: nobody wants it
        assert sent == [topic]

        wanted.add(topic)
        feed.sync()
        assert [s.key for s in feed.runner.subscriptions()] == [("NSE", "SBIN")]
    finally:
        feed.publisher.close()
