"""ShardedStream spreads one session's instruments over as many sockets as the broker's
per-socket cap needs, up to its socket limit, and behaves as one stream to the runner."""

from __future__ import annotations

import threading
import time

import pytest

from brokers.streaming import Mode, ShardedStream, StreamClosed, StreamRunner, Subscription


class Socket:
    def __init__(self, log: list[Socket]) -> None:
        self.held: dict[tuple[str, str], Subscription] = {}
        self.closed = False
        self.fail = False
        self.sink = None
        log.append(self)

    def connect(self, sink) -> None:
        self.sink = sink

    def subscribe(self, subscriptions) -> None:
        for subscription in subscriptions:
            self.held[subscription.key] = subscription

    def unsubscribe(self, subscriptions) -> None:
        for subscription in subscriptions:
            del self.held[subscription.key]

    def pump(self, timeout: float) -> bool:
        if self.fail:
            raise StreamClosed("dropped")
        time.sleep(timeout)
        return bool(self.held)

    def close(self) -> None:
        self.closed = True


def subs(count: int, mode: Mode = Mode.LTP) -> list[Subscription]:
    return [Subscription("NSE", f"S{n}", str(n), mode) for n in range(count)]


def test_3000_symbols_fit_zerodhas_caps_and_the_next_socket_opens_only_when_needed():
    opened: list[Socket] = []
    stream = ShardedStream(lambda: Socket(opened), per_socket=3000, max_sockets=3)
    stream.connect(lambda *tick: None)
    stream.subscribe(subs(3000))
    assert len(opened) == 1 and len(opened[0].held) == 3000
    stream.subscribe(subs(9000)[3000:])
    assert [len(socket.held) for socket in opened] == [3000, 3000, 3000] and stream.refused == 0
    stream.subscribe([Subscription("NSE", "ONE_TOO_MANY", "x")])
    assert stream.refused == 1 and len(opened) == 3


def test_a_freed_slot_is_reused_and_a_mode_change_stays_on_its_socket():
    opened: list[Socket] = []
    stream = ShardedStream(lambda: Socket(opened), per_socket=2, max_sockets=2)
    stream.connect(lambda *tick: None)
    first = subs(4)
    stream.subscribe(first)
    stream.unsubscribe([first[1]])
    assert [len(s.held) for s in opened] == [1, 2]
    stream.subscribe([Subscription("NSE", "NEW", "9")])
    assert "NEW" in {symbol for _, symbol in opened[0].held}
    stream.subscribe([Subscription("NSE", "S3", "3", Mode.DEPTH)])
    assert opened[1].held[("NSE", "S3")].mode == Mode.DEPTH and ("NSE", "S3") not in opened[0].held


def test_one_socket_dropping_reconnects_all_and_every_instrument_comes_back():
    opened: list[Socket] = []
    stream = ShardedStream(lambda: Socket(opened), per_socket=2, max_sockets=3)
    runner = StreamRunner(stream, lambda *tick: None, backoff_initial=0.01, backoff_max=0.02, pump_timeout=0.01)
    runner.subscribe(subs(5))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while len(opened) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    opened[1].fail = True
    while len(opened) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.stop()
    thread.join(2)
    assert all(socket.closed for socket in opened[:3])
    assert sum(len(socket.held) for socket in opened[3:6]) == 5


def test_limits_must_be_positive():
    with pytest.raises(ValueError):
        ShardedStream(lambda: Socket([]), per_socket=0, max_sockets=1)
