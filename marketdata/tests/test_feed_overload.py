"""The feed under overload (issue 15): a client slower than its ticks gets the newest tick
of each symbol, the rest conflated and counted. Everything is real: a ZeroMQ forwarder on loopback ports,
ticks published at a fixed rate stamped with their creation time, the feed consumer served
over TCP by uvicorn (the feed processes' server), and a websockets client that does 1 ms
of work per frame, so it takes at most ~1,000 frames/s of the 4,000/s it is sent."""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import threading
import time

import pytest
import zmq
from django.test import override_settings

from brokers.sandbox.testing import make_instrument
from brokers.selectors import lookup_cache
from marketdata.bus import Forwarder
from marketdata.stream.hub import Hub, reset_hub

SYMBOLS = [f"SLOW{i:02d}" for i in range(20)]
TICKS_PER_SECOND = 4000  # over the 20 symbols: 200 a second each
READ_SECONDS = 4.0
WORK_PER_FRAME = 0.0005
# Tick age is printed, not asserted: on 2026-11-30 the slow reader's ages still grew over
# the read in some runs (last quarter p50 0.4-2 s; goal p99 <= 250 ms, issue 15, open), so
# frames still queue somewhere past the outbox. What is asserted is that conflation works.


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _publish(xsub: str, stop: threading.Event, counter: list[int]) -> None:
    """SLOW00..SLOW19 in turn, TICKS_PER_SECOND in all, each stamped when it is made."""
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(xsub)
    book = json.dumps([{"price": 100.0 - i * 0.05, "quantity": 10, "orders": 1} for i in range(5)])
    template = ('{"ltp":%d,"ltt":%d,"timestamp":%d,"open":99.0,"high":113.0,"low":98.0,"close":99.5,'
                '"volume":%d,"bid":99.95,"ask":100.05,"depth":{"buy":%s,"sell":%s}}')
    topics = [f"sandbox|NSE|{symbol}".encode() for symbol in SYMBOLS]
    started, sent = time.perf_counter(), 0
    while not stop.is_set():
        due = int((time.perf_counter() - started) * TICKS_PER_SECOND)
        while sent < due:
            now_ms = int(time.time() * 1000)
            payload = template % (100 + sent % 13, now_ms, now_ms, sent, book, book)
            sock.send_multipart([topics[sent % len(topics)], payload.encode()])
            sent += 1
        counter[0] = sent
        time.sleep(0.001)
    sock.close(linger=0)


@pytest.fixture
def served(transactional_db, api_key):
    """The feed consumer on a real socket (uvicorn in a thread), its hub on a real bus."""
    import uvicorn

    from marketdata.stream.consumer import FeedConsumer

    lookup_cache.clear()
    for symbol in SYMBOLS:
        make_instrument(symbol, "NSE")
    xsub, xpub = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    forwarder = Forwarder(xsub, xpub)
    bus = threading.Thread(target=forwarder.run, daemon=True)
    bus.start()
    assert forwarder.wait_ready()
    reset_hub(xpub)
    port = _port()
    server = uvicorn.Server(uvicorn.Config(FeedConsumer.as_asgi(), host="127.0.0.1", port=port, ws="websockets",
                                           lifespan="off", log_level="warning"))
    with override_settings(ZMQ_XSUB_ADDRESS=xsub, ZMQ_XPUB_ADDRESS=xpub, WS_AUTH_GRACE_SECONDS=30):
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        yield {"url": f"ws://127.0.0.1:{port}/", "xsub": xsub, "key": api_key}
        server.should_exit = True
        thread.join(10)
    forwarder.stop()
    bus.join(5)
    lookup_cache.clear()


# The slow reader, in a process of its own (its own interpreter lock, like any real client):
# prints "ready" once subscribed, then reads for READ_SECONDS, working WORK_PER_FRAME per
# frame, pings, and prints what it saw as JSON.
READER = """
import asyncio, json, socket, sys, time
from urllib.parse import urlsplit
import websockets

url, key, symbols = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
seconds, work = float(sys.argv[4]), float(sys.argv[5])

async def main():
    # A client that reads slowly keeps its own receive buffer small (set before connecting,
    # so the window follows): what it has not read yet is in its kernel, out of the server's
    # reach, and the server's conflation can only bound what is still on its side.
    where = urlsplit(url)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.connect((where.hostname, where.port))
    async with websockets.connect(url, sock=sock, max_size=None, max_queue=4, ping_interval=None,
                                  open_timeout=15) as ws:
        await ws.send(json.dumps({"action": "authenticate", "api_key": key}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 15))["status"] == "success"
        await ws.send(json.dumps({"action": "subscribe", "mode": 2,
                                  "symbols": [{"symbol": s, "exchange": "NSE"} for s in symbols]}))
        while (ack := json.loads(await asyncio.wait_for(ws.recv(), 15))).get("type") != "subscribe":
            pass
        print("ready", ack["status"], flush=True)
        ages, seen, frames = [], set(), 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            message = json.loads(await asyncio.wait_for(ws.recv(), 15))
            if message.get("type") != "market_data":
                continue
            frames += 1
            ages.append(time.time() * 1000 - message["data"]["timestamp"])
            seen.add(message["symbol"])
            time.sleep(work)  # its own work, during which it reads nothing
        await ws.send(json.dumps({"action": "ping", "_pingId": 1}))
        while (pong := json.loads(await asyncio.wait_for(ws.recv(), 15))).get("type") != "pong":
            pass
        print(json.dumps({"ages": ages, "frames": frames, "pong": pong, "symbols": sorted(seen)}), flush=True)

asyncio.run(main())
"""


def test_a_slow_reader_is_conflated_and_its_pong_counts_what_it_dropped(served, monkeypatch):
    # The reference: how old ticks already are when the hub hands them out (the publisher,
    # forwarder and hub share this test's process and a busy machine). Conflation bounds
    # what comes after: the wait for a client that cannot keep up.
    lags: list[float] = []
    dispatch = Hub.dispatch

    def timed(hub, topic, payload):
        lags.append(time.time() * 1000 - json.loads(payload)["timestamp"])
        dispatch(hub, topic, payload)

    monkeypatch.setattr(Hub, "dispatch", timed)
    stop, counter = threading.Event(), [0]
    publisher = threading.Thread(target=_publish, args=(served["xsub"], stop, counter), daemon=True)
    reader = subprocess.Popen([sys.executable, "-c", READER, served["url"], served["key"], ",".join(SYMBOLS),
                               str(READ_SECONDS), str(WORK_PER_FRAME)], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().split() == ["ready", "success"]
        publisher.start()
        result = json.loads(reader.stdout.readline())
    finally:
        stop.set()
        publisher.join(5)
        reader.kill()
        reader.wait(5)
    last_quarter = result["ages"][-len(result["ages"]) // 4:]  # in the order they arrived
    ages = sorted(result["ages"])
    p99 = ages[int(len(ages) * 0.99)]
    lags.sort()
    upstream = lags[int(len(lags) * 0.99)]
    seen = (f"{result['frames']} frames of {counter[0]} sent, dropped {result['pong'].get('dropped')}, "
            f"symbols {len(result['symbols'])}, tick age p50 {statistics.median(ages):.0f} ms, p99 {p99:.0f} ms, "
            f"last quarter p50 {statistics.median(last_quarter):.0f} ms; "
            f"at the hub p99 {upstream:.0f} ms")
    # It was overloaded: it took well under what it was sent, and the rest was conflated.
    print(seen)
    assert result["frames"] < 0.5 * counter[0], seen
    assert result["pong"]["dropped"] > counter[0] * 0.2, seen
    assert {"type", "status", "server_timestamp", "_pingId"} <= set(result["pong"])
    assert result["symbols"] == SYMBOLS, seen  # conflation keeps every symbol moving, not just the busiest
