"""The WebSocket feed's speed (issue: >= 30,000 frames/s to 100 clients each on 50 symbols,
slowest client >= 80% of the fastest, publish-to-client p99 <= 10 ms at 5,000 ticks/s in,
web process <= 150 MB with 1,000 idle connections). Starts its own forwarder and daphne
on the embedded defaults, publishes synthetic ticks into the bus at increasing rates and
measures with client processes. Prints figures. Not a test.

Usage: python bench/feed.py [--seconds 5] [--clients 100] [--idle 1000]"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ping import ROOT, free_port, prepare, start_daphne, wait_for_ping

CLIENT_PROCESSES = 4


def symbols(count: int) -> list[str]:
    """Option symbols from the sandbox contract (any listed symbol would do)."""
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from brokers.models import Instrument; print('\\n'.join(Instrument.objects.filter(exchange='NFO')"
         f".order_by('symbol').values_list('symbol', flat=True)[:{count}]))"],
        cwd=ROOT, env=os.environ.copy(), check=True, capture_output=True, text=True).stdout.split()
    return out[-count:]


def publish(xsub: str, names: list[str], rate: int, seconds: float, stop: threading.Event) -> int:
    context = zmq.Context.instance()
    socket = context.socket(zmq.PUB)
    socket.connect(xsub)
    time.sleep(0.3)
    sent, started = 0, time.perf_counter()
    book = [{"price": 100.0 - i * 0.05, "quantity": 65, "orders": 1} for i in range(5)]
    while time.perf_counter() - started < seconds and not stop.is_set():
        due = int((time.perf_counter() - started) * rate)
        while sent < due:
            name = names[sent % len(names)]
            now_ms = time.time() * 1000
            payload = json.dumps({"ltp": 100.0 + sent % 7, "ltt": int(now_ms), "timestamp": now_ms, "open": 99.0,
                                  "high": 101.0, "low": 98.0, "close": 99.5, "volume": sent,
                                  "depth": {"buy": book, "sell": book}}).encode()
            socket.send_multipart([f"sandbox|NFO|{name}".encode(), payload])
            sent += 1
        time.sleep(0.0005)
    socket.close(linger=0)
    return sent


async def _client(url: str, key: str, names: list[str], seconds: float, stats: dict, idle: bool) -> None:
    import websockets

    async with websockets.connect(url, max_size=None, open_timeout=30, ping_interval=None) as ws:
        await ws.send(json.dumps({"action": "authenticate", "api_key": key}))
        await ws.recv()
        if idle:
            await asyncio.sleep(seconds)
            return
        for name in names:
            await ws.send(json.dumps({"action": "subscribe", "symbol": name, "exchange": "NFO", "mode": 1}))
        acks = 0
        while acks < len(names):
            if json.loads(await ws.recv()).get("type") == "subscribe":
                acks += 1
        stats["ready"] += 1
        while not stats["go"]:
            await asyncio.sleep(0.01)
        frames, latencies = 0, []
        end = time.time() + seconds
        while time.time() < end:
            try:
                text = await asyncio.wait_for(ws.recv(), timeout=max(0.01, end - time.time()))
            except TimeoutError:
                break
            frames += 1
            if frames % 10 == 0:
                stamp = text.find('"timestamp":')
                if stamp > 0:
                    value = float(text[stamp + 12:text.index(",", stamp)])
                    latencies.append(time.time() * 1000 - value)
        stats["frames"].append(frames)
        stats["latency"].extend(latencies)


def _client_process(args) -> tuple[list[int], list[float]]:
    url, key, names, seconds, count, barrier_path = args
    stats = {"frames": [], "latency": [], "ready": 0, "go": False}

    async def main():
        async def starter():
            Path(barrier_path + f".{os.getpid()}").write_text("")
            while not Path(barrier_path).exists() or stats["ready"] < count:
                await asyncio.sleep(0.01)
            stats["go"] = True

        await asyncio.gather(starter(), *[_client(url, key, names, seconds, stats, False) for _ in range(count)])

    asyncio.run(main())
    return stats["frames"], stats["latency"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--rates", default="200,1000,5000,10000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-feedbench-") as tmp:
        xsub, xpub = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
        os.environ.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", LOG_LEVEL="WARNING",
                          ZMQ_XSUB_ADDRESS=xsub, ZMQ_XPUB_ADDRESS=xpub)
        for var in ("DATABASE_URL", "REDIS_URL"):
            os.environ.pop(var, None)
        env = os.environ.copy()
        key = prepare(env, sandbox=True)
        names = symbols(args.symbols)
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")
        import django

        django.setup()
        from marketdata.bus import Forwarder

        forwarder = Forwarder(xsub, xpub)
        threading.Thread(target=forwarder.run, daemon=True).start()
        forwarder.wait_ready()
        server, port = start_daphne(env)
        wait_for_ping(port, key)
        url = f"ws://127.0.0.1:{port}/"
        print(f"bench/feed.py: one daphne process, embedded defaults, {os.cpu_count()} cores, "
              f"{args.clients} clients x {args.symbols} symbols (mode 1)")
        try:
            for rate in (int(r) for r in args.rates.split(",")):
                barrier = f"{tmp}/go-{rate}"
                per = args.clients // CLIENT_PROCESSES
                jobs = [(url, key, names, args.seconds, per, barrier) for _ in range(CLIENT_PROCESSES)]
                with multiprocessing.Pool(CLIENT_PROCESSES) as pool:
                    result = pool.map_async(_client_process, jobs)
                    while len(list(Path(tmp).glob(f"go-{rate}.*"))) < CLIENT_PROCESSES:
                        time.sleep(0.05)
                    time.sleep(1.0 + args.clients * args.symbols * 0.0002)  # let every subscription settle
                    Path(barrier).write_text("")
                    stop = threading.Event()
                    sent = publish(xsub, names, rate, args.seconds, stop)
                    parts = result.get(timeout=args.seconds * 10 + 120)
                frames = [f for part in parts for f in part[0]]
                latency = sorted(x for part in parts for x in part[1])
                total = sum(frames)
                p50 = statistics.median(latency) if latency else float("nan")
                p99 = latency[min(len(latency) - 1, int(len(latency) * 0.99))] if latency else float("nan")
                fair = min(frames) / max(frames) if frames and max(frames) else 0.0
                print(f"{rate:>6} ticks/s in ({sent} sent): {total / args.seconds:>9.0f} frames/s out to "
                      f"{len(frames)} clients, slowest/fastest {fair:.2f}, latency p50 {p50:.1f} ms "
                      f"p99 {p99:.1f} ms, web RSS {rss_mb(server.pid):.0f} MB", flush=True)
            before = rss_mb(server.pid)

            async def idle():
                stats = {"ready": 0, "go": True, "frames": [], "latency": []}
                tasks = [asyncio.create_task(_client(url, key, [], 8, stats, True)) for _ in range(args.idle)]
                await asyncio.sleep(6)
                measured = rss_mb(server.pid)
                await asyncio.gather(*tasks, return_exceptions=True)
                return measured

            with_idle = asyncio.run(idle())
            print(f"web RSS with {args.idle} idle authenticated connections: {with_idle:.0f} MB "
                  f"(before: {before:.0f} MB)")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
            forwarder.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
