"""Market-data frame parsing of the live brokers' streams, per second, each beside a
reference measured in the same run on the same bytes: the bare struct.unpack_from (or, for
Upstox's protobuf, a bare varint walk) over the frame, with no Quote or Depth built. The
ratio holds whatever the machine's speed. Zerodha's full-mode goal (>= 100,000 packets/s)
has its own script, bench/zerodha_ticks.py. Not a test.

    .venv/bin/python bench/ticks.py [--frames 50000]
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")
os.environ.setdefault("BROKERS", "angel,dhan,fyers,upstox,zerodha")


def rate(run: Callable[[], int], seconds: float = 1.0) -> float:
    """Items per second of ``run`` (which returns how many it handled), over >= ``seconds``."""
    run()  # warm
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        count += run()
    return count / elapsed


def bare(frame: bytes, layout: str) -> Callable[[], int]:
    """The reference: unpack every fixed-size record of ``layout`` in ``frame``."""
    size = struct.calcsize(layout)

    def run() -> int:
        for offset in range(0, len(frame) - size + 1, size):
            struct.unpack_from(layout, frame, offset)
        return 1
    return run


def angel() -> tuple[str, Callable[[], int], Callable[[], int]]:
    from brokers.angel.tests.test_ticks import snap_frame
    from brokers.angel.ticks import parse

    frame = snap_frame()

    def run() -> int:
        parse(frame)
        return 1
    return "Angel One SnapQuote frames", run, bare(frame, "<" + "q" * (len(frame) // 8))


def dhan() -> tuple[str, Callable[[], int], Callable[[], int]]:
    from brokers.dhan.feed import FeedParser

    body = struct.pack("<BhBi", 8, 162, 2, 43854) + struct.pack(
        "<fhifiiiiiiffff", 150.5, 65, 1_764_400_000, 149.8, 987654, 5000, 6000, 1, 2, 3, 140.0, 0.0, 155.0, 138.5)
    body += b"".join(struct.pack("<iihhff", 100, 50, 1, 2, 150.45, 150.55) for _ in range(5))
    frame, parser = body * 100, FeedParser()

    def run() -> int:
        return sum(1 for _ in parser.ticks(frame))
    reference = bare(frame, "<" + "i" * (len(body) // 4))
    return "Dhan full packets (5-level depth)", run, lambda: reference() * 100


def fyers() -> tuple[str, Callable[[], int], Callable[[], int]]:
    from brokers.fyers import hsm

    name = b"sf|nse_cm|3045"
    entry = b"U" + struct.pack(">H", 7) + bytes((21,)) + struct.pack(">21i", *range(1, 22))
    snapshot = b"S" + struct.pack(">H", 7) + bytes((len(name),)) + name + bytes((21,)) \
        + struct.pack(">21i", *range(1, 22)) + b"\x00\x00" + struct.pack(">H", 1) + b"\x02" + b"\x00\x00\x00"
    decoder = hsm.Decoder()
    list(decoder.feed(b"\x00\x00\x06" + struct.pack(">I", 1) + struct.pack(">H", 1) + snapshot))
    frame = b"\x00\x00\x06" + struct.pack(">I", 2) + struct.pack(">H", 50) + entry * 50

    def run() -> int:
        return sum(1 for _ in decoder.feed(frame))
    reference = bare(entry * 50, ">" + "i" * (len(entry) // 4))
    return "Fyers HSM quote updates", run, lambda: reference() * 50


def upstox() -> tuple[str, Callable[[], int], Callable[[], int]]:
    from brokers.base import BrokerCredentials
    from brokers.streaming import Mode, Subscription
    from brokers.upstox.stream import UpstoxSocket
    from brokers.upstox.tests.test_stream import full_frame

    key = "NSE_EQ|INE062A01020"
    socket = UpstoxSocket(BrokerCredentials(broker="upstox", access_token="t"), authorize=lambda: "wss://x",
                          open_socket=lambda url: None)
    socket._sink = lambda *tick: None
    socket._by_key[key] = Subscription("NSE", "SBIN", key, Mode.DEPTH)
    frame = full_frame(key, 812.35)

    def run() -> int:
        return socket.deliver(frame)

    def varints() -> int:  # the wire format's bare walk: one varint or length per byte run
        index, end = 0, len(frame)
        while index < end:
            index += 1
            while index < end and frame[index - 1] & 0x80:
                index += 1
        return 1
    return "Upstox full-mode FeedResponse frames", run, varints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    import django

    django.setup()
    print(f"{'stream':<38} {'parsed/s':>12} {'reference/s':>13} {'share':>6}")
    for build in (angel, dhan, fyers, upstox):
        label, run, reference = build()
        parsed, ref = rate(run, args.seconds), rate(reference, args.seconds)
        print(f"{label:<38} {parsed:>12,.0f} {ref:>13,.0f} {parsed / ref:>6.2f}")


if __name__ == "__main__":
    main()
