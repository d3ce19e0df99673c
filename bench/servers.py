"""The HTTP server of the web process, compared in one run: the Procfile's uvicorn line with
WEB_CONCURRENCY=1 and =2, beside a lone daphne (the server the platform had before) as the
reference, on one database. Rounds alternate between the three so a busy machine weighs on
each alike. Each round: ping and placeorder (sandbox MARKET) from client *processes* (not
threads, so the client side is not one GIL), for a fixed time; prints req/s and p50/p99 per
server, medians over the rounds, and the load average. Not a test.

Usage: python bench/servers.py [--rounds 3] [--seconds 8] [--clients 8] [--postgres URL]
(embedded SQLite in a temp folder by default; --postgres makes a fresh `<db>_servers`)"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
from ping import ROOT, free_port, fresh_database, percentile, prepare, start_daphne, stop_group, wait_for_ping

sys.path.insert(0, str(ROOT))
ORDER = {"strategy": "bench", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "product": "MIS",
         "pricetype": "MARKET", "quantity": "1"}


def start_uvicorn(env: dict, workers: int) -> tuple[subprocess.Popen, int]:
    from openalgo.process import command_for

    port = free_port()
    env = {**env, "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    argv = command_for("web", env=env, windows=False)
    server = subprocess.Popen([sys.executable, *argv[1:]], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    return server, port


def _client(url: str, body: dict, seconds: float, out) -> None:
    latencies, errors = [], 0
    with httpx.Client(timeout=10) as client:
        client.post(url, json=body)  # connect outside the clock
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            started = time.perf_counter()
            response = client.post(url, json=body)
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200
    out.send((latencies, errors))


def drive(url: str, body: dict, clients: int, seconds: float) -> tuple[float, float, float, int]:
    """(req/s, p50 ms, p99 ms, errors) of ``clients`` processes for ``seconds``."""
    pipes, procs = [], []
    for _ in range(clients):
        parent, child = multiprocessing.Pipe(duplex=False)
        proc = multiprocessing.Process(target=_client, args=(url, body, seconds, child))
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    latencies, errors = [], 0
    for parent in pipes:
        mine, failed = parent.recv()
        latencies += mine
        errors += failed
    for proc in procs:
        proc.join()
    ms = [x * 1000 for x in latencies]
    return len(ms) / seconds, statistics.median(ms), percentile(ms, 0.99), errors


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--postgres", help="e.g. postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    servers = {"daphne (reference)": lambda env: start_daphne(env),
               "uvicorn WEB_CONCURRENCY=1": lambda env: start_uvicorn(env, 1),
               "uvicorn WEB_CONCURRENCY=2": lambda env: start_uvicorn(env, 2)}
    with tempfile.TemporaryDirectory(prefix="openalgo-servers-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", RECONCILE_ON_STARTUP="false",
                   API_RATE_LIMIT="1000000 per second", ORDER_RATE_LIMIT="1000000 per second",
                   ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}")
        if args.postgres:
            env["DATABASE_URL"] = fresh_database(args.postgres, "servers")
        key = prepare(env, sandbox=True)
        results: dict[str, dict[str, list]] = {name: {"ping": [], "placeorder": []} for name in servers}
        loads = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            for name, start in servers.items():
                server, port = start(env)
                try:
                    wait_for_ping(port, key)
                    base = f"http://127.0.0.1:{port}/api/v1/"
                    results[name]["ping"].append(drive(base + "ping", {"apikey": key}, args.clients, args.seconds))
                    results[name]["placeorder"].append(
                        drive(base + "placeorder", {"apikey": key, **ORDER}, args.clients, args.seconds))
                finally:
                    stop_group(server)
                loads.append(os.getloadavg()[0])
    print(f"bench/servers.py: {os.cpu_count()} cores, {'PostgreSQL' if args.postgres else 'SQLite'}, "
          f"{args.clients} client processes, {args.rounds} rounds x {args.seconds:.0f} s per endpoint and server "
          f"(medians of the rounds); load average {min(loads):.1f}-{max(loads):.1f} during the run")
    for endpoint in ("ping", "placeorder"):
        for name, by_endpoint in results.items():
            runs = by_endpoint[endpoint]
            rate, p50, p99 = (statistics.median(r[i] for r in runs) for i in range(3))
            errors = sum(r[3] for r in runs)
            print(f"  {endpoint:<10} {name:<26} {rate:7.0f} req/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
                  f"  errors {errors}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
