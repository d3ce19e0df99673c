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
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from ping import ROOT, free_port, percentile, prepare, start_daphne, wait_for_ping

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


# --- The real simulator, under the platform as `make run` starts it ------------------------------------

SIM_SYMBOLS = """
from brokers.models import Instrument
print('\\n'.join(Instrument.objects.filter(broker='sandbox', exchange='NSE', instrumenttype='EQ')
                 .order_by('symbol').values_list('symbol', flat=True)[:%d]))
"""


def sandbox_symbols(env: dict, count: int) -> list[str]:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", SIM_SYMBOLS % count], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout.split()
    return out[-count:]


def platform_env(tmp: str, **extra: str) -> dict:
    """The environment of a platform of our own: embedded defaults, free ports for HTTP, the
    feed's WebSocket port and the bus, its own var directory and env file."""
    from bench.load import BIN, HIGH_LIMIT

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", LOG_LEVEL="WARNING",
               HOST="127.0.0.1", PORT=str(free_port()), WS_PORT=str(free_port()),
               ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONUNBUFFERED="1",
               API_RATE_LIMIT=HIGH_LIMIT, ORDER_RATE_LIMIT=HIGH_LIMIT, SMART_ORDER_RATE_LIMIT=HIGH_LIMIT)
    env.update(extra)
    return env


def layout(env: dict) -> str:
    """What `make run` starts (bench.load.start_platform): the Procfile's processes less beat
    (in the worker) and, on one feed-server process, ws (in the feed process)."""
    from bench.load import make_run_counts, skipped_processes

    counts = make_run_counts(env)
    skip = set(skipped_processes(counts))
    names = [line.split(":", 1)[0] for line in (ROOT / "Procfile").read_text().splitlines()
             if ":" in line and not line.lstrip().startswith("#") and line.split(":", 1)[0] not in skip]
    settings = ", ".join(f"{var}={counts[var]}" for var in ("WEB_CONCURRENCY", "FEED_PROCESSES", "FEED_SERVES_WS"))
    return f"make run: {' + '.join(names)} ({settings})"


def _age_ms(text: str, now_ms: float) -> float | None:
    at = text.find('"timestamp":')
    if at < 0:
        return None
    end = text.find(",", at)
    try:
        return now_ms - float(text[at + 12:end if end > 0 else None].rstrip("}"))
    except ValueError:
        return None


async def _subscriber(url: str, key: str, names: list[str], mode: int, go: asyncio.Event, state: dict,
                      delay: float = 0.0) -> dict:
    """One feed client: all ``names`` in one subscribe; once ``go`` is set, counts frames and
    the age of every tick (from its creation, the tick's timestamp, to its receipt here).
    ``delay``: seconds of work per frame (a slow reader: it takes 1/delay frames a second)."""
    import websockets

    async with websockets.connect(url, max_size=None, open_timeout=60, ping_interval=None) as ws:
        await ws.send(json.dumps({"action": "authenticate", "api_key": key}))
        await asyncio.wait_for(ws.recv(), 60)
        await ws.send(json.dumps({"action": "subscribe", "mode": mode,
                                  "symbols": [{"symbol": n, "exchange": "NSE"} for n in names]}))
        while json.loads(await asyncio.wait_for(ws.recv(), 60)).get("type") != "subscribe":
            pass
        state["ready"] += 1
        # Read (and drop) what comes while the others get ready, as a client would: unread,
        # the frames of those seconds would wait in this socket's buffers and be counted
        # first once the window opens, seconds old.
        while not go.is_set():
            try:
                await asyncio.wait_for(ws.recv(), 0.05)
            except TimeoutError:
                continue
            if delay:
                await asyncio.sleep(delay)
        frames, ages, end = 0, [], state["end"]
        while (left := end - time.time()) > 0:
            try:
                text = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            if not text.startswith('{"type":"market_data"'):
                continue
            frames += 1
            age = _age_ms(text, time.time() * 1000)
            if age is not None:
                ages.append(age)
            if delay:
                await asyncio.sleep(delay)  # its own work; meanwhile its socket fills up
        if delay:
            await ws.send(json.dumps({"action": "ping"}))
            while (pong := json.loads(await asyncio.wait_for(ws.recv(), 30))).get("type") != "pong":
                pass
            return {"frames": frames, "ages": ages, "dropped": pong.get("dropped")}
        return {"frames": frames, "ages": ages}


async def _pinger(url: str, key: str, go: asyncio.Event, state: dict, every: float = 0.05) -> list[float]:
    """The reference: WebSocket ping round trips (ms) to the same server, in the same client process."""
    import websockets

    async with websockets.connect(url, max_size=None, open_timeout=60, ping_interval=None) as ws:
        await ws.send(json.dumps({"action": "authenticate", "api_key": key}))
        await asyncio.wait_for(ws.recv(), 60)
        state["ready"] += 1
        await go.wait()
        rtts, n = [], 0
        while time.time() < state["end"]:
            n += 1
            started = time.perf_counter()
            await ws.send(json.dumps({"action": "ping", "_pingId": n}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("_pingId") != n:
                pass
            rtts.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(every)
        return rtts


def _clients_process(url: str, key: str, names: list[str], mode: int, count: int, slow: float, ready, go,
                     seconds: float, results) -> None:
    async def main() -> None:
        state = {"ready": 0, "end": 0.0}
        start = asyncio.Event()
        tasks = [asyncio.create_task(_pinger(url, key, start, state))]
        for i in range(count):
            tasks.append(asyncio.create_task(_subscriber(url, key, names, mode, start, state)))
            if i % 10 == 9:
                await asyncio.sleep(0.05)  # a ramp, not a thundering herd
        if slow:
            tasks.append(asyncio.create_task(_subscriber(url, key, names, mode, start, state, delay=slow)))
        while state["ready"] < len(tasks):
            await asyncio.sleep(0.02)
        ready.release()
        while not go.is_set():
            await asyncio.sleep(0.01)
        state["end"] = time.time() + seconds
        start.set()
        done = await asyncio.gather(*tasks)
        clients = done[1:1 + count]
        results.put({"pings": done[0], "frames": [c["frames"] for c in clients],
                     "ages": [a for c in clients for a in c["ages"]], "slow": done[1 + count] if slow else None})

    asyncio.run(main())


class FeedClients:
    """``clients`` feed clients (each on all ``names`` in ``mode``) in ``processes`` client
    processes, each process with one pinger beside them; optionally one slow reader. Start
    with start() (connects and subscribes), then measure(seconds) as often as wanted."""

    def __init__(self, url: str, key: str, names: list[str], *, clients: int = 100, mode: int = 2,
                 processes: int = CLIENT_PROCESSES, slow: float = 0.0) -> None:
        self.url, self.key, self.names, self.mode = url, key, names, mode
        self.clients, self.processes, self.slow = clients, processes, slow

    def measure(self, seconds: float, during=None) -> dict:
        """Connect, subscribe, wait until every client is ready, then count for ``seconds``;
        ``during(seconds)``, if given, runs in a thread of its own over the same window."""
        ctx = multiprocessing.get_context("spawn")
        ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
        per = [self.clients // self.processes + (i < self.clients % self.processes) for i in range(self.processes)]
        procs = [ctx.Process(target=_clients_process, daemon=True,
                             args=(self.url, self.key, self.names, self.mode, n, self.slow if i == 0 else 0.0,
                                   ready, go, seconds, results)) for i, n in enumerate(per)]
        for proc in procs:
            proc.start()
        for _ in procs:
            if not ready.acquire(timeout=180):
                raise RuntimeError("feed clients did not get ready")
        time.sleep(1.0)  # the last subscriptions reach the feed process and its stream
        side = threading.Thread(target=during, args=(seconds,)) if during else None
        go.set()
        if side:
            side.start()
        parts = [results.get(timeout=seconds + 120) for _ in procs]
        if side:
            side.join()
        for proc in procs:
            proc.join(timeout=30)
        frames = [f for part in parts for f in part["frames"]]
        slow = next((part["slow"] for part in parts if part["slow"]), None)
        return {"frames": frames, "rate": sum(frames) / seconds, "ages": sorted(a for p in parts for a in p["ages"]),
                "pings": sorted(x for p in parts for x in p["pings"]), "slow": slow}


def summary(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    return f"p50 {statistics.median(samples):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms"


def simulator(args) -> int:
    """100 clients x 50 symbols in mode 2 at the simulator's own rate, through `make run`'s
    processes; tick age (creation to client) beside a WebSocket ping round trip."""
    from bench.load import create_users, start_platform, stop_platform, wait_ready

    with tempfile.TemporaryDirectory(prefix="openalgo-feedsim-") as tmp:
        extra = {"SIM_TICKS_PER_SECOND": str(args.tick_rate)} if args.tick_rate else {}
        env = platform_env(tmp, **extra)
        key = create_users(env, 1)[0]
        names = sandbox_symbols(env, args.symbols)
        proc = start_platform(env, Path(tmp) / "honcho.log")
        try:
            wait_ready(proc, int(env["PORT"]), int(env["WS_PORT"]), key)
            rate = env.get("SIM_TICKS_PER_SECOND", "default")
            print(f"bench/feed.py --simulator: {layout(env)}, embedded defaults, {os.cpu_count()} cores, "
                  f"{args.clients} clients x {len(names)} symbols (mode {args.mode}), SIM_TICKS_PER_SECOND {rate}"
                  + (f", one slow reader taking {1 / args.slow:.0f} frames/s" if args.slow else ""), flush=True)
            url = f"ws://127.0.0.1:{env['WS_PORT']}/"
            result = FeedClients(url, key, names, clients=args.clients, mode=args.mode, slow=args.slow).measure(
                args.seconds)
            frames = result["frames"]
            fair = min(frames) / max(frames) if frames and max(frames) else 0.0
            print(f"  {result['rate']:.0f} frames/s to {len(frames)} clients (slowest/fastest {fair:.2f})")
            print(f"  tick age, creation to client: {summary(result['ages'])}")
            print(f"  reference, WebSocket ping round trip in the same client processes: {summary(result['pings'])}")
            if result["slow"]:
                slow = result["slow"]
                print(f"  slow reader: {slow['frames'] / args.seconds:.0f} frames/s taken, tick age "
                      f"{summary(sorted(slow['ages']))}, dropped (its pong) {slow['dropped']}")
            print(f"  load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            if args.idle:
                idle_sockets(url, key, args.idle, proc.pid)
        finally:
            print(f"  platform {stop_platform(proc)}")
    return 0


def serving_processes(root: int) -> dict[str, int]:
    """The platform's Python processes under honcho by role: web, ws (feed-server processes),
    feed (which also serves the feed when FEED_SERVES_WS)."""
    from ping import descendants

    roles = {}
    for pid in descendants(root):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        for fragment, role in (("feed_asgi", "ws"), ("openalgo.asgi", "web"), ("runfeed", "feed")):
            if fragment in cmdline and "/bin/sh" not in cmdline:
                roles[f"{role} {pid}"] = pid
    return roles


def idle_sockets(url: str, key: str, count: int, root: int) -> None:
    """RSS of each serving process before and with ``count`` idle authenticated feed sockets
    (goal: <= 150 MB for the process that holds them)."""
    before = {role: rss_mb(pid) for role, pid in serving_processes(root).items()}

    async def hold() -> dict[str, float]:
        stats = {"ready": 0, "go": True, "frames": [], "latency": []}
        tasks = [asyncio.create_task(_client(url, key, [], 10, stats, True)) for _ in range(count)]
        await asyncio.sleep(8)
        measured = {role: rss_mb(pid) for role, pid in serving_processes(root).items()}
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failed = sum(isinstance(result, BaseException) for result in results)
        if failed:
            print(f"  ({failed} of {count} idle sockets failed)")
        return measured

    with_idle = asyncio.run(hold())
    for role in sorted(with_idle):
        print(f"  {role}: RSS {before.get(role, 0):.0f} MB idle, {with_idle[role]:.0f} MB with {count} idle "
              f"authenticated feed sockets on {url}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--rates", default="200,1000,5000,10000")
    parser.add_argument("--simulator", action="store_true",
                        help="the real simulator under `make run`'s processes instead of synthetic ticks")
    parser.add_argument("--mode", type=int, default=2, help="--simulator: subscription mode")
    parser.add_argument("--tick-rate", type=float, default=0.0,
                        help="--simulator: SIM_TICKS_PER_SECOND (default: the platform's)")
    parser.add_argument("--slow", type=float, default=0.0,
                        help="--simulator: add one reader that works this many seconds per frame")
    args = parser.parse_args()
    if args.simulator:
        return simulator(args)
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
