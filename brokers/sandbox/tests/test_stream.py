"""The sandbox's market stream: the simulator behind the stream contract."""

from __future__ import annotations

import pytest

from brokers.sandbox.stream import SimulatedStream
from brokers.streaming import Mode, StreamClosed, Subscription

SBIN = Subscription("NSE", "SBIN", "", Mode.DEPTH)


def test_subscribed_instruments_tick_at_the_simulators_rate_with_their_book(market):
    ticks = []
    stream = SimulatedStream(ticks_per_second=50)
    stream.connect(lambda *tick: ticks.append(tick))
    stream.subscribe([SBIN, Subscription("NSE", "NOPE", "", Mode.LTP)])
    assert stream.pump(0.2) is True
    assert 5 <= len(ticks) <= 12
    exchange, symbol, quote, depth, _at = ticks[-1]
    assert (exchange, symbol, quote.ltp) == ("NSE", "SBIN", 800) and len(depth.bids) == 5


def test_an_unsubscribed_instrument_stops_and_a_closed_stream_raises(market):
    ticks = []
    stream = SimulatedStream(ticks_per_second=50)
    stream.connect(lambda *tick: ticks.append(tick))
    stream.subscribe([SBIN])
    stream.pump(0.05)
    stream.unsubscribe([SBIN])
    seen = len(ticks)
    assert stream.pump(0.05) is True and len(ticks) == seen
    stream.close()
    with pytest.raises(StreamClosed):
        stream.pump(0.05)
