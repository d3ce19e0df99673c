"""Zerodha full-mode binary tick parsing rate (issue 16 goal: >= 100,000 packets/s).

Builds Kite ticker frames of 184-byte full-mode packets (quote + OI + exchange time + 5x2
depth levels) for 3,000 instruments whose prices move a few ticks per packet, then
measures, over the very same buffer, in the same run:

- reference: a bare ``struct.unpack_from`` of the full-packet layout over every packet
  (the floor any parser in Python pays, with nothing built);
- parse: ``TickParser.frame`` (brokers/zerodha/ticker.py), each packet into the contract's
  Quote and Depth (Decimal prices) and its exchange time;
- deliver: ``ZerodhaSocket.deliver``, the stream's whole per-frame path (parse, token ->
  our symbol, the sink call) into a sink that keeps nothing.

Prints packets/s for each (best of ``--runs``) and the ratio to the reference. Not a test.

Usage: python bench/zerodha_ticks.py [--frames 1000] [--per-frame 100] [--runs 5]"""

from __future__ import annotations

import argparse
import os
import random
import struct
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")

import django  # noqa: E402

django.setup()

from brokers.base import BrokerCredentials  # noqa: E402
from brokers.zerodha.stream import ZerodhaSocket  # noqa: E402
from brokers.zerodha.ticker import FULL, TickParser  # noqa: E402

INSTRUMENTS = 3000
GOAL = 100_000


def full_packet(token: int, price: int, stamp: int) -> bytes:
    depth: list[int] = []
    for level in range(1, 6):
        depth += [100 * level, price - 5 * level, level]
    for level in range(1, 6):
        depth += [50 * level, price + 5 * level, level]
    return FULL.pack(token, price, 25, price - 3, 1_000_000 + price % 977, 50_000, 60_000, price - 500, price + 800,
                     price - 900, price - 100, stamp - 1, 150_000, 160_000, 140_000, stamp, *depth)


def build_frames(frames: int, per_frame: int, seed: int = 16) -> tuple[list[bytes], list[int]]:
    rng = random.Random(seed)
    tokens = [((1000 + n) << 8) | (1 if n % 2 else 2) for n in range(INSTRUMENTS)]  # NSE and NFO segments
    prices = {token: rng.randint(5_000, 500_000) for token in tokens}
    stamp = 1_764_216_000
    built, offsets = [], []
    for number in range(frames):
        body = bytearray(struct.pack(">H", per_frame))
        for _ in range(per_frame):
            token = tokens[rng.randrange(INSTRUMENTS)]
            prices[token] += 5 * rng.randint(-3, 3)
            body += struct.pack(">H", FULL.size) + full_packet(token, prices[token], stamp + number // 50)
        built.append(bytes(body))
    offsets = [2 + 2 + index * (2 + FULL.size) for index in range(per_frame)]
    return built, offsets


def reference(frames: list[bytes], offsets: list[int]) -> int:
    unpack = FULL.unpack_from
    count = 0
    for data in frames:
        for offset in offsets:
            unpack(data, offset)
            count += 1
    return count


def parse(frames: list[bytes], parser: TickParser) -> int:
    count = 0
    for data in frames:
        count += len(parser.frame(data))
    return count


def timed(run, repeats: int) -> tuple[float, float, int]:
    """(best wall-clock rate, best CPU-time rate, packets). CPU time is this process's own:
    on a shared machine it leaves out the time spent waiting for a core."""
    walls, cpus = [], []
    packets = 0
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        packets = run()
        walls.append(packets / (time.perf_counter() - wall))
        cpus.append(packets / max(time.process_time() - cpu, 1e-9))
    return max(walls), max(cpus), packets


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    options.add_argument("--frames", type=int, default=1000)
    options.add_argument("--per-frame", type=int, default=100)
    options.add_argument("--runs", type=int, default=5)
    args = options.parse_args()

    frames, offsets = build_frames(args.frames, args.per_frame)
    parser = TickParser()
    socket = ZerodhaSocket(BrokerCredentials(broker="zerodha", api_key="k", access_token="t"), parser=parser)
    delivered = [0]

    def sink(exchange, symbol, quote, depth, at) -> None:
        delivered[0] += 1

    socket._sink = sink  # the bench drives deliver() directly, without a connection
    socket._names = {((1000 + n) << 8) | (1 if n % 2 else 2): ("NFO" if n % 2 == 0 else "NSE", f"SYM{n}")
                     for n in range(INSTRUMENTS)}
    assert len(parser.frame(frames[0])) == args.per_frame  # the frames are what the parser reads

    def deliver() -> int:
        delivered[0] = 0
        for data in frames:
            socket.deliver(data)
        return delivered[0]

    results = [
        ("reference: bare struct.unpack_from", timed(lambda: reference(frames, offsets), args.runs)),
        ("parse: TickParser.frame -> Quote+Depth", timed(lambda: parse(frames, parser), args.runs)),
        ("deliver: ZerodhaSocket.deliver -> sink", timed(deliver, args.runs)),
    ]
    total = args.frames * args.per_frame
    load = os.getloadavg()[0]
    print(f"Zerodha full-mode ticks: {args.frames} frames x {args.per_frame} packets of {FULL.size} bytes "
          f"({total:,} packets, {INSTRUMENTS} instruments), best of {args.runs} runs; "
          f"load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"  {'':42s} {'wall packets/s':>15s} {'CPU packets/s':>15s}   CPU share of reference")
    base = results[0][1][1]
    for label, (wall, cpu, packets) in results:
        assert packets == total, (label, packets)
        print(f"  {label:42s} {wall:>15,.0f} {cpu:>15,.0f}   {cpu / base:6.1%}")
    wall, cpu = results[1][1][0], results[1][1][1]
    print(f"goal >= {GOAL:,} packets/s parsed: wall {'met' if wall >= GOAL else 'NOT met'} ({wall:,.0f}), "
          f"CPU time {'met' if cpu >= GOAL else 'NOT met'} ({cpu:,.0f})")


if __name__ == "__main__":
    main()
