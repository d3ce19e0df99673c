"""Ping throughput and latency against a real daphne on loopback: the API-key hot path
(digest lookup, cached Argon2 verification) plus the DRF plumbing. Prints p50/p95/p99
and req/s for sequential calls and for 8 concurrent clients. Not a test.

Usage: python bench/ping.py [--requests N] [--postgres URL]
(starts its own daphne on a temp SQLite DB, or on a fresh `<db>_bench` PostgreSQL database)"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(url: str, suffix: str) -> str:
    import psycopg

    base, _, name = url.rpartition("/")
    target = f"{name}_{suffix}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target}"')
    return f"{base}/{target}"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(label: str, latencies: list[float], wall: float) -> None:
    ms = [x * 1000 for x in latencies]
    print(f"{label}: {len(ms)} requests, {len(ms) / wall:.0f} req/s, p50 {statistics.median(ms):.2f} ms, "
          f"p95 {percentile(ms, 0.95):.2f} ms, p99 {percentile(ms, 0.99):.2f} ms")


def run_clients(url: str, body: dict, clients: int, per_client: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = []
        with httpx.Client(timeout=10) as client:
            for _ in range(per_client):
                t0 = time.perf_counter()
                response = client.post(url, json=body)
                mine.append(time.perf_counter() - t0)
                assert response.status_code == 200, response.text
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started


def prepare(env: dict, *, sandbox: bool = False) -> str:
    """Migrate a fresh database (and load the sandbox), create user `bench`; return its key."""
    manage = [sys.executable, "manage.py"]
    commands = [["migrate", "-v0"], *([["loadsandbox"]] if sandbox else []),
                ["shell", "-c", "from accounts.models import User; User.objects.create_user('bench')"]]
    for command in commands:
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return subprocess.run([*manage, "apikey", "bench"], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True).stdout.splitlines()[-1]


def start_daphne(env: dict) -> tuple[subprocess.Popen, int]:
    """One daphne process on a free loopback port (stop it with os.killpg)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "openalgo.asgi:application"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    return server, port


def stop_group(proc: subprocess.Popen, *, timeout: float = 20) -> None:
    """Stop a process started with start_new_session (honcho and its children) as Ctrl-C
    would, then kill what is left after ``timeout`` seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def wait_for_ping(port: int, key: str) -> None:
    for _ in range(150):
        try:
            if httpx.post(f"http://127.0.0.1:{port}/api/v1/ping", json={"apikey": key}, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)



def sequential(url: str, body: dict, count: int) -> tuple[list[float], float]:
    """``count`` POSTs of ``body`` one after the other: each latency (s) and the wall time."""
    latencies = []
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        for _ in range(count):
            t0 = time.perf_counter()
            response = client.post(url, json=body)
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
        return latencies, time.perf_counter() - started


def client_process(args: tuple[str, dict, int]) -> list[float]:
    """A client in a process of its own (multiprocessing pools): ``sequential``'s latencies."""
    url, body, count = args
    return sequential(url, body, count)[0]


def descendants(pid: int) -> list[int]:
    """Every descendant process of ``pid`` (from /proc), children before grandchildren."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(0), []):
            found.append(child)
            todo.append(child)
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--postgres", help="e.g. postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env",
                   API_RATE_LIMIT="1000000 per second")
        if args.postgres:
            env["DATABASE_URL"] = fresh_database(args.postgres, "bench")
        key = prepare(env)
        server, port = start_daphne(env)
        url = f"http://127.0.0.1:{port}/api/v1/ping"
        body = {"apikey": key}
        try:
            wait_for_ping(port, key)
            run_clients(url, body, 1, 200)  # warm-up
            database = "PostgreSQL" if args.postgres else "SQLite"
            report(f"ping sequential ({database})", *run_clients(url, body, 1, args.requests))
            report(f"ping 8 clients ({database})", *run_clients(url, body, 8, args.requests // 8))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
