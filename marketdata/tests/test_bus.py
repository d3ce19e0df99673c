"""The feed bus forwards ticks from publishers to subscribers over real ZeroMQ sockets,
and passes subscriptions upstream so publishers know what is wanted."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import zmq

from marketdata.bus import Forwarder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bus():
    xsub, xpub = f"tcp://127.0.0.1:{_free_port()}", f"tcp://127.0.0.1:{_free_port()}"
    forwarder = Forwarder(xsub, xpub, context=zmq.Context())
    thread = threading.Thread(target=forwarder.run, daemon=True)
    thread.start()
    assert forwarder.wait_ready()
    yield forwarder
    forwarder.stop()
    thread.join(timeout=5)
    assert not thread.is_alive()


def _recv(sock, timeout_ms=3000):
    if not sock.poll(timeout_ms):
        raise AssertionError("nothing arrived on the bus")
    return sock.recv_multipart()


def test_a_published_tick_reaches_a_subscriber_through_the_forwarder(bus):
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.connect(bus.xpub_address)
    sub.setsockopt(zmq.SUBSCRIBE, b"NSE:SBIN")
    pub = ctx.socket(zmq.XPUB)  # a publisher that can see subscriptions
    pub.connect(bus.xsub_address)
    try:
        assert _recv(pub) == [b"\x01NSE:SBIN"]  # the subscription travelled upstream
        pub.send_multipart([b"NSE:SBIN|1", b'{"ltp": 801.5}'])
        pub.send_multipart([b"NSE:INFY|1", b'{"ltp": 1500}'])
        assert _recv(sub) == [b"NSE:SBIN|1", b'{"ltp": 801.5}']
        assert not sub.poll(200), "a tick nobody subscribed to was delivered"
    finally:
        sub.close(linger=0)
        pub.close(linger=0)


def test_many_ticks_cross_the_bus_in_order(bus):
    ctx = zmq.Context.instance()
    sub, pub = ctx.socket(zmq.SUB), ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)  # PUB drops silently at its high-water mark; this test counts
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(bus.xpub_address)
    pub.connect(bus.xsub_address)
    try:
        deadline = time.monotonic() + 3
        while not sub.poll(10):  # wait until the path is joined end to end
            pub.send_multipart([b"warmup", b""])
            assert time.monotonic() < deadline
        while sub.poll(50):
            sub.recv_multipart()
        for n in range(1000):
            pub.send_multipart([b"NSE:SBIN|1", str(n).encode()])
        received = [int(_recv(sub)[1]) for _ in range(1000)]
        assert received == list(range(1000))
    finally:
        sub.close(linger=0)
        pub.close(linger=0)
