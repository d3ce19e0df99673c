"""Load test: the whole platform as `make run` starts it (honcho: web, feed, worker, beat)
on a fresh PostgreSQL database and Redis, once per count of web processes in --web
(default "1,2": WEB_CONCURRENCY=1, then 2, the feed's processes as the settings say or
--feed-processes), each driven for --duration seconds (default 300) by
mixed API traffic (placeorder MARKET/LIMIT, modify/cancel of resting LIMIT orders,
idempotent placeorder with deliberate retries of the same Idempotency-Key, orderbook,
tradebook, positionbook, funds, quotes, multiquotes, depth) plus 100 WebSocket feed
clients (mode 1, LTP). Reports per-endpoint count, req/s, p50/p99, errors by kind (goal 0),
feed frames, and checks the order ledger: every order answered "success" is in
orders_order exactly once, no row is left "submitting", and the row count equals accepted
plus recorded rejections. Ends with the runs side by side (req/s, p50, p99 per endpoint:
the first run is the reference of the others, measured on the same machine minutes apart).
Exits non-zero on any error or a ledger failure. Not a test.

Usage: .venv/bin/python bench/load.py [--duration 300] [--web 1,2] [--feed-processes N]
           [--workers 8] [--processes 2]
           [--feed-clients 100] [--postgres postgres://postgres@127.0.0.1:5432/postgres]
           [--redis redis://127.0.0.1:6379/13] [--default-limits]

Each run creates (and afterwards drops) the database `<db>_load`, flushes the Redis database
before and after, runs migrate + loadsandbox + collectstatic in a temp OPENALGO_VAR_DIR,
picks free ports for HTTP, WebSocket and the ZeroMQ bus, creates one user and API key per
HTTP worker, and raises API_RATE_LIMIT/ORDER_RATE_LIMIT/SMART_ORDER_RATE_LIMIT for the run
(all clients share 127.0.0.1, and the per-IP defaults of 50/s and 10/s would answer 429:
pass --default-limits to keep them, and every 429 then counts as an error)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.ping import ROOT, free_port, fresh_database, percentile, prepare

BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "honcho").exists() else Path(sys.executable).parent
HIGH_LIMIT = "1000000 per second"
TRADED = ("SBIN", "RELIANCE", "INFY")
# Far below any simulated price, so a LIMIT BUY rests (whole rupees suit every tick size).
RESTING_PRICE = {"SBIN": 400, "RELIANCE": 700, "INFY": 700}
FEED_SYMBOLS = ("SBIN", "RELIANCE", "INFY", "TCS", "HDFCBANK", "ICICIBANK", "ITC", "LT", "WIPRO", "NTPC")
FEED_SYMBOLS_PER_CLIENT = 3
MAX_RESTING = 6
# The mix: relative weights of each operation.
MIX = {"placeorder MARKET": 14, "placeorder LIMIT": 6, "modifyorder": 4, "cancelorder": 5,
       "placeorder idempotent": 2, "orderbook": 3, "tradebook": 3, "positionbook": 6, "funds": 8,
       "quotes": 20, "multiquotes": 10, "depth": 10}


# --- The platform --------------------------------------------------------------------------------


def drop_database(maintenance_url: str, url: str) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


def create_users(env: dict, count: int) -> list[str]:
    """prepare() made user `bench` (migrate, loadsandbox); add load2..loadN; one key each."""
    keys = [prepare(env, sandbox=True)]
    if count > 1:
        script = ("from accounts.models import User\nfrom accounts.services import create_api_key\n"
                  f"for i in range(2, {count + 1}):\n"
                  "    print('KEY', create_api_key(user=User.objects.create_user(f'load{i}')))")
        out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True).stdout
        keys += [line.split()[1] for line in out.splitlines() if line.startswith("KEY ")]
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], cwd=ROOT,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    return keys


def make_run_counts(env: dict) -> dict[str, str]:
    """The process settings `make run` gives honcho (Makefile): the counts from the CPUs
    unless ``env`` sets them, beat in the worker, and with one feed-server process the feed
    process serving the feed itself."""
    cpus = os.cpu_count() or 1
    web = env.get("WEB_CONCURRENCY") or str(cpus // 2 if cpus >= 4 else 1)
    feed = env.get("FEED_PROCESSES") or str(cpus // 4 if cpus >= 8 else 1)
    serves = env.get("FEED_SERVES_WS") or ("true" if feed == "1" else "false")
    return {"WEB_CONCURRENCY": web, "FEED_PROCESSES": feed, "WORKER_BEAT": "true", "FEED_SERVES_WS": serves}


def skipped_processes(counts: dict[str, str]) -> list[str]:
    """The Procfile's processes `make run` does not start: beat (in the worker), and ws when
    the feed process serves the feed."""
    return ["beat", *(["ws"] if counts["FEED_SERVES_WS"] == "true" else [])]


def honcho_skip(counts: dict[str, str]) -> str:
    """honcho's -c argument for skipped_processes."""
    return ",".join(f"{name}=0" for name in skipped_processes(counts))


def start_platform(env: dict, log_path: Path) -> subprocess.Popen:
    """`make run`'s last line. honcho would load the checkout's own .env into every process
    (its secrets differ from the temp OPENALGO_ENV_FILE the keys were made with): point it at ours."""
    log = open(log_path, "w")  # noqa: SIM115 - closed by stop_platform
    counts = make_run_counts(env)
    skip = honcho_skip(counts)
    proc = subprocess.Popen([str(BIN / "honcho"), "start", "-f", "Procfile", "-e", env["OPENALGO_ENV_FILE"],
                             "--no-colour", "-c", skip], cwd=ROOT, env={**env, **counts}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def stop_platform(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # honcho passes the stop on to every process
        try:
            proc.wait(timeout=30)
            how = "stopped cleanly (SIGINT)"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            how = "did not stop within 30 s: process group killed"
    else:
        how = f"had already exited (code {proc.returncode})"
    with contextlib.suppress(ProcessLookupError):  # honcho's children share its group: none left behind
        os.killpg(proc.pid, signal.SIGKILL)
    proc.log.close()  # type: ignore[attr-defined]
    return how


def wait_ready(proc: subprocess.Popen, port: int, ws_port: int, key: str, timeout: float = 120) -> None:
    """Until the API answers a ping and a feed client gets a tick (the feed process is up)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError("honcho exited during startup")
        if time.monotonic() > deadline:
            raise RuntimeError("the API did not answer within the startup timeout")
        try:
            status = httpx.post(f"http://127.0.0.1:{port}/api/v1/ping", json={"apikey": key}, timeout=2).status_code
        except httpx.TransportError:
            status = None
        if status == 200:
            break
        if status is not None:
            raise RuntimeError(f"ping answered HTTP {status} with the test's API key")
        time.sleep(0.25)

    async def first_tick() -> None:
        import websockets

        async with websockets.connect(f"ws://127.0.0.1:{ws_port}/", open_timeout=10) as ws:
            await ws.send(json.dumps({"action": "authenticate", "api_key": key}))
            await ws.recv()
            await ws.send(json.dumps({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 1}))
            while json.loads(await ws.recv()).get("type") != "market_data":
                pass

    asyncio.run(asyncio.wait_for(first_tick(), max(5.0, deadline - time.monotonic())))


# --- HTTP clients --------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter = Counter()
        self.samples: dict[str, str] = {}
        self.accepted: list[str] = []  # orderid of every placeorder answered success (replays included)
        self.idempotent: dict[str, list[str]] = {}  # key -> every orderid its requests answered
        self.conflicts = 0  # 409 "still being processed" for a concurrent duplicate: correct, not an error
        self.rejected = 0  # placeorder answered 4xx/5xx (a ledger row may exist for it)

    def error(self, kind: str, text: str) -> None:
        self.errors[kind] += 1
        self.samples.setdefault(kind, text[:300])


async def call(client: httpx.AsyncClient, stats: Stats, label: str, path: str, body: dict,
               headers: dict | None = None) -> tuple[int, dict] | None:
    t0 = time.perf_counter()
    try:
        response = await client.post(path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        stats.error(f"{label}: {type(exc).__name__}", repr(exc))
        return None
    stats.latency[label].append(time.perf_counter() - t0)
    try:
        data = response.json()
    except ValueError:
        data = {}
    return response.status_code, data


def ok(stats: Stats, label: str, result: tuple[int, dict] | None) -> dict | None:
    if result is None:
        return None
    status, data = result
    if status == 200 and data.get("status") == "success" and (data.get("orderid") or not label.startswith(
            ("placeorder", "modifyorder", "cancelorder"))):
        return data
    stats.error(f"{label}: HTTP {status}", json.dumps(data))
    if label.startswith("placeorder"):
        stats.rejected += 1
    return None


async def http_worker(base: str, key: str, worker: int, start_at: float, end_at: float, stats: Stats) -> None:
    rng = random.Random(worker)
    ops, weights = list(MIX), list(MIX.values())
    resting: list[dict] = []  # my LIMIT orders still open: {"orderid", "symbol", "price", "modified"}
    side, serial = 0, 0
    auth = {"apikey": key}
    order = {**auth, "strategy": "load", "exchange": "NSE", "product": "MIS", "quantity": "1"}
    await asyncio.sleep(max(0.0, start_at - time.time()))
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.time() < end_at:
            op = rng.choices(ops, weights)[0]
            if op in ("modifyorder", "cancelorder") and not resting:
                op = "placeorder LIMIT"
            if op == "placeorder LIMIT" and len(resting) >= MAX_RESTING:
                op = "cancelorder"
            symbol = rng.choice(TRADED)
            if op == "placeorder MARKET":
                side += 1
                body = {**order, "symbol": symbol, "action": "BUY" if side % 2 else "SELL", "pricetype": "MARKET"}
                data = ok(stats, op, await call(client, stats, op, "placeorder", body))
                if data:
                    stats.accepted.append(data["orderid"])
            elif op == "placeorder LIMIT":
                body = {**order, "symbol": symbol, "action": "BUY", "pricetype": "LIMIT",
                        "price": str(RESTING_PRICE[symbol])}
                data = ok(stats, op, await call(client, stats, op, "placeorder", body))
                if data:
                    stats.accepted.append(data["orderid"])
                    resting.append({"orderid": data["orderid"], "symbol": symbol, "price": RESTING_PRICE[symbol],
                                    "modified": False})
            elif op == "modifyorder":
                fresh = [o for o in resting if not o["modified"]] or resting
                target = rng.choice(fresh)
                target["price"] -= 1
                body = {**order, "orderid": target["orderid"], "symbol": target["symbol"], "action": "BUY",
                        "pricetype": "LIMIT", "price": str(target["price"]), "quantity": "2", "trigger_price": "0",
                        "disclosed_quantity": "0"}
                if ok(stats, op, await call(client, stats, op, "modifyorder", body)):
                    target["modified"] = True
            elif op == "cancelorder":
                target = resting.pop(0)
                body = {**auth, "strategy": "load", "orderid": target["orderid"]}
                ok(stats, op, await call(client, stats, op, "cancelorder", body))
            elif op == "placeorder idempotent":
                # A client whose first answer got lost: the same request with the same key sent
                # twice at once, then once more after both answered. One order, one orderid.
                serial += 1
                idem = f"load-{worker}-{serial}-{os.getpid()}"
                side += 1
                body = {**order, "symbol": symbol, "action": "BUY" if side % 2 else "SELL", "pricetype": "MARKET"}
                headers = {"Idempotency-Key": idem}
                first = await asyncio.gather(*(call(client, stats, op, "placeorder", body, headers)
                                               for _ in range(2)))
                retry = await call(client, stats, op, "placeorder", body, headers)
                seen = stats.idempotent.setdefault(idem, [])
                for result in (*first, retry):
                    if result is not None and result[0] == 409:
                        stats.conflicts += 1
                        continue
                    data = ok(stats, op, result)
                    if data:
                        seen.append(data["orderid"])
                if seen:
                    stats.accepted.append(seen[0])
            elif op == "multiquotes":
                picks = rng.sample(FEED_SYMBOLS, 3)
                body = {**auth, "symbols": [{"symbol": s, "exchange": "NSE"} for s in picks]}
                ok(stats, op, await call(client, stats, op, "multiquotes", body))
            elif op in ("quotes", "depth"):
                body = {**auth, "symbol": rng.choice(FEED_SYMBOLS), "exchange": "NSE"}
                ok(stats, op, await call(client, stats, op, op, body))
            else:  # orderbook, tradebook, positionbook, funds
                ok(stats, op, await call(client, stats, op, op, auth))


def http_process(base: str, jobs: list[tuple[int, str]], start_at: float, end_at: float) -> dict:
    stats = Stats()

    async def main() -> None:
        await asyncio.gather(*(http_worker(base, key, worker, start_at, end_at, stats) for worker, key in jobs))

    asyncio.run(main())
    return {"latency": dict(stats.latency), "errors": dict(stats.errors), "samples": stats.samples,
            "accepted": stats.accepted, "idempotent": stats.idempotent, "conflicts": stats.conflicts,
            "rejected": stats.rejected}


# --- Feed clients --------------------------------------------------------------------------------


async def feed_client(url: str, key: str, index: int, start_at: float, end_at: float, out: dict) -> None:
    import websockets

    names = [FEED_SYMBOLS[(index + i) % len(FEED_SYMBOLS)] for i in range(FEED_SYMBOLS_PER_CLIENT)]
    try:
        async with websockets.connect(url, open_timeout=30, max_size=None) as ws:
            out["connected"] += 1
            await ws.send(json.dumps({"action": "authenticate", "api_key": key}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if reply.get("type") != "auth" or reply.get("status") != "success":
                out["errors"][f"feed: auth failed {reply.get('code')}"] += 1
                return
            for name in names:
                await ws.send(json.dumps({"action": "subscribe", "symbol": name, "exchange": "NSE", "mode": 1}))
            acks = 0
            while acks < len(names):
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if message.get("type") == "subscribe":
                    if message.get("status") != "success":
                        out["errors"]["feed: subscribe not success"] += 1
                    acks += 1
            out["subscribed"] += 1
            frames = 0
            while (left := end_at - time.time()) > 0:
                try:
                    text = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                if time.time() >= start_at and '"market_data"' in text:
                    frames += 1
            out["frames"].append(frames)
    except Exception as exc:  # every failure is a counted error
        out["errors"][f"feed: {type(exc).__name__}"] += 1
        out["samples"].setdefault(f"feed: {type(exc).__name__}", repr(exc)[:300])


def feed_process(url: str, keys: list[str], clients: int, start_at: float, end_at: float) -> dict:
    out = {"connected": 0, "subscribed": 0, "frames": [], "errors": Counter(), "samples": {}}

    async def main() -> None:
        tasks = []
        for i in range(clients):
            tasks.append(asyncio.create_task(feed_client(url, keys[i % len(keys)], i, start_at, end_at, out)))
            await asyncio.sleep(0.01)  # a ramp, not a thundering herd
        await asyncio.gather(*tasks)

    asyncio.run(main())
    out["errors"] = dict(out["errors"])
    return out


# --- The ledger ----------------------------------------------------------------------------------


def ledger_rows(database_url: str) -> list[tuple[str, str, str]]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT broker_order_id, status, source FROM orders_order").fetchall()


def settle(database_url: str, seconds: float = 30) -> list[tuple[str, str, str]]:
    deadline = time.monotonic() + seconds
    while True:
        rows = ledger_rows(database_url)
        if not any(status == "submitting" for _, status, _ in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(1)


def check_ledger(rows: list[tuple[str, str, str]], accepted: list[str], idempotent: dict[str, list[str]],
                 rejected_answers: int) -> tuple[bool, list[str]]:
    lines, failures = [], []
    others = Counter(source for _, _, source in rows if source != "api")
    rows = [row for row in rows if row[2] == "api"]  # what the API placed (not squareoff, killswitch, ...)
    accepted_set = set(accepted)
    in_ledger = Counter(orderid for orderid, _, _ in rows if orderid)
    statuses = Counter(status for _, status, _ in rows)
    missing = [o for o in accepted_set if in_ledger[o] == 0]
    twice = [o for o in accepted_set if in_ledger[o] > 1]
    answered_twice = [o for o, n in Counter(accepted).items() if n > 1]
    recorded_rejections = statuses["rejected"] + statuses["failed"]
    extra = [o for o, _, status in rows if status not in ("rejected", "failed") and o not in accepted_set]
    split_keys = [k for k, ids in idempotent.items() if len(set(ids)) > 1]
    retried = sum(len(ids) for ids in idempotent.values())
    lines.append(f"accepted orders (distinct orderids answered success): {len(accepted_set)}; "
                 f"ledger rows from the API: {len(rows)} (status {dict(statuses)}); "
                 f"rows from other sources: {dict(others) or 0}")
    lines.append(f"idempotent placements: {len(idempotent)} keys, {retried} success answers, "
                 f"{len(split_keys)} keys answered with more than one orderid")
    checks = [
        (not missing, f"accepted orders missing from the ledger: {len(missing)} {missing[:5]}"),
        (not twice, f"accepted orders in the ledger more than once: {len(twice)} {twice[:5]}"),
        (not answered_twice, f"orderids answered to two different placements: {len(answered_twice)}"),
        (not split_keys, f"idempotency keys that made more than one order: {len(split_keys)} {split_keys[:5]}"),
        (statuses["submitting"] == 0, f"rows left 'submitting' after the run settled: {statuses['submitting']}"),
        (statuses["unknown"] == 0, f"rows left 'unknown' (broker answer lost): {statuses['unknown']}"),
        (not extra, f"rows no client saw accepted and not rejected: {len(extra)} {extra[:5]}"),
        (recorded_rejections <= rejected_answers,
         f"recorded rejections {recorded_rejections} > placeorder error answers {rejected_answers}"),
        (len(rows) == len(accepted_set) + recorded_rejections,
         f"ledger rows {len(rows)} != accepted {len(accepted_set)} + recorded rejections {recorded_rejections}"),
    ]
    failures = [text for good, text in checks if not good]
    lines.append(f"ledger rows {len(rows)} == accepted {len(accepted_set)} + recorded rejections "
                 f"{recorded_rejections}: {'yes' if len(rows) == len(accepted_set) + recorded_rejections else 'NO'}")
    return not failures, lines + [f"FAILED: {text}" for text in failures]


# --- Report --------------------------------------------------------------------------------------


def report(results: list[dict], feed: dict, wall: float, feed_clients: int) -> int:
    latency: dict[str, list[float]] = defaultdict(list)
    errors: Counter = Counter()
    samples: dict[str, str] = {}
    for part in results:
        for label, values in part["latency"].items():
            latency[label].extend(values)
        errors.update(part["errors"])
        for kind, text in part["samples"].items():
            samples.setdefault(kind, text)
    errors.update(feed["errors"])
    samples.update({k: v for k, v in feed["samples"].items() if k not in samples})
    total = sum(len(v) for v in latency.values())
    print(f"\n{'endpoint':<24} {'requests':>9} {'req/s':>8} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    for label in sorted(latency, key=lambda name: -len(latency[name])):
        ms = [x * 1000 for x in latency[label]]
        print(f"{label:<24} {len(ms):>9} {len(ms) / wall:>8.1f} {statistics.median(ms):>9.1f} "
              f"{percentile(ms, 0.99):>9.1f} {max(ms):>9.1f}")
    everything = [x * 1000 for v in latency.values() for x in v]
    if everything:
        print(f"{'all HTTP':<24} {total:>9} {total / wall:>8.1f} {statistics.median(everything):>9.1f} "
              f"{percentile(everything, 0.99):>9.1f} {max(everything):>9.1f}")
    placed = len({o for part in results for o in part["accepted"]})
    print(f"orders accepted: {placed} ({placed / wall:.1f}/s)")
    conflicts = sum(part["conflicts"] for part in results)
    print(f"409 'still being processed' answers to concurrent duplicates of an idempotent placeorder: "
          f"{conflicts} (expected, not errors)")
    frames = sum(feed["frames"])
    print(f"feed: {feed['connected']}/{feed_clients} clients connected, {feed['subscribed']} subscribed "
          f"({FEED_SYMBOLS_PER_CLIENT} symbols each, mode 1), {len(feed['frames'])} lasted the run; "
          f"{frames} market_data frames, {frames / wall:.0f} frames/s"
          + (f", per client min {min(feed['frames'])} max {max(feed['frames'])}" if feed["frames"] else ""))
    missing_clients = feed_clients - len(feed["frames"])
    if missing_clients and not feed["errors"]:
        errors["feed: client did not finish"] += missing_clients
    print(f"errors: {sum(errors.values())} (goal 0)")
    for kind, count in errors.most_common():
        print(f"  {count:>6}  {kind}   e.g. {samples.get(kind, '')}")
    return sum(errors.values())


def server_log_summary(log_path: Path) -> str:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    tracebacks = text.count("Traceback (most recent call last)")
    error_lines = sum(1 for line in text.splitlines() if " ERROR " in line or "| ERROR" in line)
    summary = f"server log: {len(text.splitlines())} lines, {error_lines} ERROR lines, {tracebacks} tracebacks"
    # The exceptions themselves (the last line of each traceback), once each, so a failing run says why.
    seen: list[str] = []
    for line in text.splitlines():
        message = line.split(" | ", 1)[-1].strip()
        if re.match(r"^[\w.]+(Error|Exception|Exit|Interrupt)\b.*", message) and message not in seen:
            seen.append(message)
    return summary + "".join(f"\n  {message[:200]}" for message in seen[:8])


def summarise(results: list[dict], wall: float) -> dict[str, tuple[int, float, float, float]]:
    """label -> (requests, req/s, p50 ms, p99 ms), "all HTTP" included: one run's line of the comparison."""
    latency: dict[str, list[float]] = defaultdict(list)
    for part in results:
        for label, values in part["latency"].items():
            latency[label].extend(values)
    latency["all HTTP"] = [x for values in list(latency.values()) for x in values]
    return {label: (len(values), len(values) / wall, statistics.median(values) * 1000,
                    percentile(values, 0.99) * 1000) for label, values in latency.items() if values}


def compare(runs: list[tuple[int, dict, str]]) -> None:
    """The runs side by side, the first one (fewest web processes) as the reference."""
    if len(runs) < 2:
        return
    print("\n=== side by side (same machine, runs one after the other; ratio = run / first run) ===")
    head = f"{'endpoint':<24}" + "".join(f" {'web=' + str(web) + ' req/s':>14} {'p50':>7} {'p99':>7}"
                                         for web, _, _ in runs)
    print(head + f" {'req/s ratio':>12} {'p99 ratio':>10}")
    reference = runs[0][1]
    for label in sorted(reference, key=lambda name: (name != "all HTTP", -reference[name][0])):
        cells = ""
        for _, summary, _ in runs:
            _, rate, p50, p99 = summary.get(label, (0, 0.0, 0.0, 0.0))
            cells += f" {rate:>14.1f} {p50:>7.1f} {p99:>7.1f}"
        last = runs[-1][1].get(label, (0, 0.0, 0.0, 0.0))
        ratio = last[1] / reference[label][1] if reference[label][1] else 0.0
        p99_ratio = last[3] / reference[label][3] if reference[label][3] else 0.0
        print(f"{label:<24}{cells} {ratio:>12.2f} {p99_ratio:>10.2f}")
    for web, _, verdict in runs:
        print(f"web={web}: {verdict}")


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def run_once(args: argparse.Namespace, web: int) -> tuple[dict, str, bool]:
    """One whole run with ``web`` HTTP processes: (summary, verdict line, passed)."""
    with tempfile.TemporaryDirectory(prefix="openalgo-load-") as tmp:
        port, ws_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", LOG_LEVEL=args.log_level,
                   HOST="127.0.0.1", PORT=str(port), WS_PORT=str(ws_port), REDIS_URL=args.redis,
                   ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
                   ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
                   PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONUNBUFFERED="1")
        # The process counts reach every process through honcho's environment (the Procfile
        # reads them); FEED_PROCESSES stays as the settings (or the caller's env) say unless given.
        env["WEB_CONCURRENCY"] = str(web)
        if args.feed_processes is not None:
            env["FEED_PROCESSES"] = str(args.feed_processes)
        feed_processes = env.get("FEED_PROCESSES", "settings' default")
        if args.default_limits:
            limits = "per-IP defaults kept (every 429 counts as an error)"
        else:
            env.update(API_RATE_LIMIT=HIGH_LIMIT, ORDER_RATE_LIMIT=HIGH_LIMIT, SMART_ORDER_RATE_LIMIT=HIGH_LIMIT)
            limits = (f"API_RATE_LIMIT, ORDER_RATE_LIMIT, SMART_ORDER_RATE_LIMIT set to '{HIGH_LIMIT}' for the run "
                      "(all clients share 127.0.0.1; per-user risk limits are off by default)")
        try:
            flush_redis(args.redis)
            env["DATABASE_URL"] = database_url = fresh_database(args.postgres, "load")
        except Exception as exc:  # no server: say so plainly, not with a traceback
            raise SystemExit(f"bench/load.py needs PostgreSQL ({args.postgres}) and Redis ({args.redis}): "
                             f"{type(exc).__name__}: {exc}") from None
        log_path = Path(tmp) / "honcho.log"
        proc = None
        passed, errors = False, -1
        try:
            print(f"\n=== WEB_CONCURRENCY={web}, FEED_PROCESSES={feed_processes} ===\n"
                  f"bench/load.py: preparing {database_url.rpartition('/')[2]} (migrate, loadsandbox, "
                  f"{args.workers} users)...", flush=True)
            keys = create_users(env, max(1, args.workers))
            started = time.monotonic()
            proc = start_platform(env, log_path)
            wait_ready(proc, port, ws_port, keys[0])
            print(f"platform up in {time.monotonic() - started:.1f} s: honcho (WEB_CONCURRENCY={web}), "
                  f"PostgreSQL, Redis {args.redis}, HTTP :{port}, WS :{ws_port}, {os.cpu_count()} cores, "
                  f"load average {load_average()}")
            print(server_processes(proc))
            print(f"rate limits: {limits}")
            print(f"traffic: {args.duration:.0f} s, {args.workers} HTTP clients in {args.processes} processes "
                  f"(one user each), {args.feed_clients} feed clients; mix {MIX}", flush=True)

            start_at = time.time() + 3 + args.feed_clients * 0.02
            end_at = start_at + args.duration
            jobs = [(w, keys[w % len(keys)]) for w in range(args.workers)]
            chunks = [jobs[i::args.processes] for i in range(args.processes) if jobs[i::args.processes]]
            with ProcessPoolExecutor(len(chunks) + 1, mp_context=get_context("spawn")) as pool:
                feed_future = pool.submit(feed_process, f"ws://127.0.0.1:{ws_port}/", keys, args.feed_clients,
                                          start_at, end_at)
                futures = [pool.submit(http_process, f"http://127.0.0.1:{port}/api/v1/", chunk, start_at, end_at)
                           for chunk in chunks]
                next_note = start_at + 60
                while not all(f.done() for f in [feed_future, *futures]):
                    time.sleep(1)
                    if proc.poll() is not None:
                        raise RuntimeError("honcho exited during the run")
                    if time.time() >= next_note and time.time() < end_at:
                        print(f"  t+{time.time() - start_at:.0f} s: {len(ledger_rows(database_url))} ledger rows",
                              flush=True)
                        next_note += 60
                results = [f.result() for f in futures]
                feed = feed_future.result()
            wall = args.duration
            print(f"load average at the end of the traffic: {load_average()}")
            errors = report(results, feed, wall, args.feed_clients)

            accepted = [o for part in results for o in part["accepted"]]
            idempotent = {k: v for part in results for k, v in part["idempotent"].items()}
            rejected = sum(part["rejected"] for part in results)
            rows = settle(database_url)
            passed, lines = check_ledger(rows, accepted, idempotent, rejected)
            print("\nledger check (orders_order):")
            for line in lines:
                print(f"  {line}")
            print(f"LEDGER CHECK: {'PASS' if passed else 'FAIL'}")
            print(server_log_summary(log_path))
        except BaseException:
            if log_path.exists():
                print("--- last lines of the platform's log ---", file=sys.stderr)
                print("\n".join(log_path.read_text(errors="replace").splitlines()[-40:]), file=sys.stderr)
            raise
        finally:
            if proc is not None:
                print(f"platform {stop_platform(proc)}")
            drop_database(args.postgres, database_url)
            flush_redis(args.redis)
            print(f"dropped {database_url.rpartition('/')[2]}, flushed {args.redis}")
        good = passed and errors == 0
        verdict = f"{'PASS' if good else 'FAIL'} ({errors} errors, ledger {'PASS' if passed else 'FAIL'})"
        print(f"LOAD TEST web={web}: {verdict}")
        return summarise(results, wall), verdict, good


def server_processes(proc: subprocess.Popen) -> str:
    """The platform's processes under honcho, by kind: shows the web and feed counts."""
    try:
        out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return "processes: (ps unavailable)"
    children: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for line in out.splitlines():
        pid, ppid, *args = line.split(None, 2)
        children[int(ppid)].append((int(pid), args[0] if args else ""))
    kinds: Counter[str] = Counter()
    stack = [proc.pid]
    while stack:
        for pid, command in children.get(stack.pop(), []):
            stack.append(pid)
            words = command.split()
            if not words or "honcho" in command or words[0] in ("/bin/sh", "sh"):
                continue
            kinds[next((w for w in words if w in ("daphne", "uvicorn", "gunicorn", "runfeed", "worker", "beat")),
                       Path(words[0]).name)] += 1
    return "processes: " + ", ".join(f"{name} x{count}" for name, count in sorted(kinds.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of traffic per run (default 300)")
    parser.add_argument("--web", default="1,2",
                        help="counts of web processes (WEB_CONCURRENCY), one whole run each (default 1,2)")
    parser.add_argument("--feed-processes", type=int, default=None,
                        help="FEED_PROCESSES for every run (default: as the settings say)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent HTTP clients, one user each")
    parser.add_argument("--processes", type=int, default=2, help="client processes the HTTP workers share")
    parser.add_argument("--feed-clients", type=int, default=100)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres",
                        help="maintenance database; the test creates and drops <db>_load next to it")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="flushed before and after")
    parser.add_argument("--default-limits", action="store_true",
                        help="keep the per-IP rate limits (50/s API, 10/s orders): 429s count as errors")
    parser.add_argument("--log-level", default="WARNING", help="LOG_LEVEL of the platform's processes")
    args = parser.parse_args()
    try:
        counts = [int(part) for part in args.web.split(",") if part.strip()]
    except ValueError:
        parser.error("--web takes counts separated by commas, e.g. 1,2")
    if not counts or min(counts) < 1:
        parser.error("--web needs at least one count of 1 or more")

    # Two runs would share <db>_load and the Redis database (each drops/flushes the other's).
    lock = open(Path(tempfile.gettempdir()) / "openalgo-bench-load.lock", "w")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("bench/load.py: another load test is running on this machine", file=sys.stderr)
        return 2
    print(f"load average before the runs: {load_average()}")
    runs = []
    for web in counts:
        summary, verdict, _ = run_once(args, web)
        runs.append((web, summary, verdict))
    compare(runs)
    passed = len(runs) == len(counts) and all(verdict.startswith("PASS") for _, _, verdict in runs)
    print(f"LOAD TEST: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
