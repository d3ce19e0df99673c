"""The API's hot path under `make run`: ping, funds and placeorder against a bare async
Django view served by the same server, in one run. The platform runs as `make run` starts
it (honcho with the Procfile less beat, which runs in the worker, and less ws when the feed
process serves the feed: bench.load.make_run_counts) on the embedded defaults (SQLite, no
Redis), in a var directory and on ports of its own, with BENCH_BARE_VIEW on: /api/v1/bench/bare
is an async view that does nothing, reached through the same server, ASGI wrappers and API
middleware (request log, security headers) as every /api/v1 call. Rate limits are raised
(every client is 127.0.0.1); nothing else differs from the defaults.

Each round measures, sequentially (one client), bare, ping, funds and placeorder (sandbox
MARKET), then 8 client processes on bare and on ping; the rounds interleave, so a change in
the machine's load falls on every figure alike. Prints the raw figures (pooled over the
rounds) and the four ratios of issue 15 with their goals:

  ping req/s (8 clients) / bare req/s (8 clients)   >= 0.85
  ping p50 / bare p50                                <= 1.2
  placeorder p50 / ping p50                          <= 3
  funds p50 / ping p50                               <= 1.3

--lone serves the same build with one lone daphne instead (bench/api.py's setting), for
comparison. --profile SECONDS records the web process(es) with py-spy during an extra
8-client ping (or --profile-endpoint) phase and prints the hottest frames. Not a test.

Usage: .venv/bin/python bench/hotpath.py [--rounds 5] [--requests 200] [--lone] [--profile 20]"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ping import (
    ROOT,
    client_process,
    free_port,
    percentile,
    prepare,
    sequential,
    start_daphne,
    stop_group,
    wait_for_ping,
)

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from bench.load import honcho_skip, make_run_counts

HIGH_LIMIT = "1000000 per second"
ORDER = {"strategy": "bench", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1",
         "pricetype": "MARKET", "product": "MIS"}
CLIENTS = 8
GOALS = {"ping/bare throughput": (">=", 0.85), "ping/bare p50": ("<=", 1.2),
         "placeorder/ping p50": ("<=", 3.0), "funds/ping p50": ("<=", 1.3)}


def concurrent(pool, url: str, body: dict, count: int) -> tuple[list[float], float]:
    """CLIENTS client processes, ``count`` requests each (one Python client cannot drive a server)."""
    started = time.perf_counter()
    parts = pool.map(client_process, [(url, body, count)] * CLIENTS)
    return [x for part in parts for x in part], time.perf_counter() - started


class Figures:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = collections.defaultdict(list)
        self.walls: dict[str, float] = collections.defaultdict(float)
        self.cpu: dict[str, float] = collections.defaultdict(float)

    def add(self, label: str, latencies: list[float], wall: float, cpu: float) -> None:
        self.samples[label] += latencies
        self.walls[label] += wall
        self.cpu[label] += cpu

    def p50(self, label: str) -> float:
        return statistics.median(self.samples[label]) * 1000

    def rate(self, label: str) -> float:
        return len(self.samples[label]) / self.walls[label]

    def line(self, label: str) -> str:
        ms = [x * 1000 for x in self.samples[label]]
        return (f"{label:<24} {len(ms):>6} req {self.rate(label):>7.0f} req/s   p50 {statistics.median(ms):6.2f} ms   "
                f"p95 {percentile(ms, 0.95):6.2f} ms   p99 {percentile(ms, 0.99):6.2f} ms   "
                f"web CPU {1000 * self.cpu[label] / len(ms):5.2f} ms/req")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def honcho_pids(log: Path, timeout: float = 60) -> dict[str, int]:
    """{process name: pid} from honcho's "web.1 started (pid=N)" lines."""
    deadline = time.monotonic() + timeout
    while True:
        found = dict(re.findall(r"(\w+)\.1 started \(pid=(\d+)\)", log.read_text()))
        if {"web", "feed", "worker"} <= found.keys() or time.monotonic() > deadline:
            return {name: int(pid) for name, pid in found.items()}
        time.sleep(0.2)


def wait_worker_ready(log: Path, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(r"celery@\S+ ready", log.read_text()):
            return True
        time.sleep(0.2)
    return False


def py_spy(given: str | None) -> str | None:
    if given:
        return given
    for candidate in (Path(sys.executable).parent / "py-spy", ROOT / ".venv" / "bin" / "py-spy"):
        if candidate.exists():
            return str(candidate)
    return shutil.which("py-spy")


def summarise_profile(raw: Path, top: int = 25) -> None:
    """The hottest frames of py-spy's collapsed stacks: by own time (leaf) and by time inside."""
    own: collections.Counter = collections.Counter()
    inside: collections.Counter = collections.Counter()
    threads: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        threads[frames[0]] += n
        own[frames[-1]] += n
        for frame in set(frames[1:]):
            inside[frame] += n
    if not total:
        print("py-spy recorded no samples")
        return
    print(f"\npy-spy: {total} samples; by thread:")
    for name, n in threads.most_common(8):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("hottest frames by own time:")
    for name, n in own.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("hottest frames by time inside (callees included):")
    for name, n in inside.most_common(top * 2):
        print(f"  {100 * n / total:5.1f}%  {name}")


def measure(pool, port: int, key: str, rounds: int, requests: int, web: list[int]) -> Figures:
    base = f"http://127.0.0.1:{port}/api/v1/"
    auth = {"apikey": key}
    bodies = {"bare": (base + "bench/bare", auth), "ping": (base + "ping", auth), "funds": (base + "funds", auth),
              "placeorder": (base + "placeorder", {**auth, **ORDER})}
    for url, body in bodies.values():  # warm-up: every thread's connection, caches, code paths
        sequential(url, body, 50)
    concurrent(pool, base + "ping", auth, 20)
    figures = Figures()
    for number in range(rounds):
        for label, (url, body) in bodies.items():
            before = cpu_seconds(web)
            latencies, wall = sequential(url, body, requests)
            figures.add(label, latencies, wall, cpu_seconds(web) - before)
        for label in ("bare", "ping") if number % 2 == 0 else ("ping", "bare"):
            url, body = bodies[label]
            before = cpu_seconds(web)
            latencies, wall = concurrent(pool, url, body, requests // 2)
            figures.add(f"{label} {CLIENTS} clients", latencies, wall, cpu_seconds(web) - before)
        print(f"  round {number + 1}/{rounds} done, load average {loadavg()}", flush=True)
    return figures


def ratios(figures: Figures) -> dict[str, float]:
    return {
        "ping/bare throughput": figures.rate(f"ping {CLIENTS} clients") / figures.rate(f"bare {CLIENTS} clients"),
        "ping/bare p50": figures.p50("ping") / figures.p50("bare"),
        "placeorder/ping p50": figures.p50("placeorder") / figures.p50("ping"),
        "funds/ping p50": figures.p50("funds") / figures.p50("ping"),
    }


def profile(pool, pid: int, port: int, key: str, seconds: float, endpoint: str, out: Path, spy: str | None) -> None:
    if spy is None:
        print("py-spy is not installed: no profile")
        return
    base = f"http://127.0.0.1:{port}/api/v1/"
    body = {"apikey": key, **(ORDER if endpoint == "placeorder" else {})}
    recorder = subprocess.Popen([spy, "record", "--pid", str(pid), "--subprocesses", "--threads",
                                 "--format", "raw", "--duration", str(int(seconds)), "--rate", "200",
                                 "--output", str(out), "--nonblocking"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    deadline = time.monotonic() + seconds
    served = 0
    while time.monotonic() < deadline and recorder.poll() is None:
        served += len(concurrent(pool, base + endpoint, body, 100)[0])
    _, errors = recorder.communicate(timeout=seconds + 30)
    print(f"\nprofiled the web process (pid {pid}) for {seconds:.0f} s while {CLIENTS} clients called "
          f"{endpoint} ({served} requests); raw stacks in {out}")
    if not out.exists():
        print(f"py-spy failed: {errors.strip()[-2000:]}")
        return
    summarise_profile(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per endpoint per round")
    parser.add_argument("--lone", action="store_true", help="one lone daphne instead of `make run`'s processes")
    parser.add_argument("--profile", type=float, default=0, help="seconds of py-spy on the web process")
    parser.add_argument("--profile-endpoint", default="ping")
    parser.add_argument("--py-spy", help="the py-spy executable (default: the virtualenv's, then PATH)")
    parser.add_argument("--procfile", default="Procfile", help="another Procfile, to try a change of its lines")
    parser.add_argument("--keep", help="copy the honcho log and py-spy output to this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-bench-hotpath-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", HOST="127.0.0.1",
                   PORT=str(free_port()), WS_PORT=str(free_port()),
                   ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
                   API_RATE_LIMIT=HIGH_LIMIT, ORDER_RATE_LIMIT=HIGH_LIMIT, SMART_ORDER_RATE_LIMIT=HIGH_LIMIT,
                   BENCH_BARE_VIEW="true", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        key = prepare(env, sandbox=True)
        log_path = Path(tmp) / "honcho.log"
        with open(log_path, "w+") as log:
            if args.lone:
                server, port = start_daphne(env)
                web_pid, what = server.pid, "one lone daphne (bench/api.py's setting)"
            else:
                # `make run`'s last line; its own env file, or honcho would read the checkout's .env.
                # Beat in the worker, and on one feed-server process the feed served by the feed process.
                env["WEB_PORT"] = env["PORT"]
                env.update(make_run_counts(env))
                skip = honcho_skip(env)
                server = subprocess.Popen([str(Path(sys.executable).parent / "honcho"), "start", "-f", args.procfile,
                                           "-e", env["OPENALGO_ENV_FILE"], "--no-colour", "-c", skip], cwd=ROOT,
                                          env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
                port = int(env["PORT"])
                what = "`make run`'s processes (honcho + Procfile)"
            try:
                wait_for_ping(port, key)
                pids: dict[str, int] = {}
                if not args.lone:
                    pids = honcho_pids(log_path)
                    ready = wait_worker_ready(log_path)
                    web_pid = pids["web"]
                    what += f": {', '.join(f'{n} {p}' for n, p in sorted(pids.items()))}"
                    what += "" if ready else " (the worker never said ready)"
                time.sleep(3)  # let the start-up settle
                print(f"bench/hotpath.py: {what}; embedded defaults (SQLite, no Redis); {os.cpu_count()} cores; "
                      f"load average {loadavg()}", flush=True)
                web = descendants(web_pid)
                groups = {name: descendants(pid) for name, pid in pids.items()} if not args.lone else {"web": web}
                with multiprocessing.Pool(CLIENTS) as pool:
                    cpu_before, started = {n: cpu_seconds(p) for n, p in groups.items()}, time.perf_counter()
                    figures = measure(pool, port, key, args.rounds, args.requests, web)
                    elapsed = time.perf_counter() - started
                    print()
                    for label in ("bare", "ping", "funds", "placeorder", f"bare {CLIENTS} clients",
                                  f"ping {CLIENTS} clients"):
                        print(figures.line(label))
                    print("CPU during the rounds, share of one core: " + ", ".join(
                        f"{name} {100 * (cpu_seconds(p) - cpu_before[name]) / elapsed:.0f}% ({len(p)} processes)"
                        for name, p in sorted(groups.items())) + f"; load average {loadavg()}")
                    print()
                    for name, value in ratios(figures).items():
                        sign, goal = GOALS[name]
                        met = value >= goal if sign == ">=" else value <= goal
                        print(f"{name:<22} {value:5.2f}   goal {sign} {goal:<5} {'met' if met else 'NOT met'}")
                    if args.profile:
                        profile(pool, web_pid, port, key, args.profile, args.profile_endpoint,
                                Path(tmp) / "py-spy.txt", py_spy(args.py_spy))
                if args.keep:
                    Path(args.keep).mkdir(parents=True, exist_ok=True)
                    for name in ("honcho.log", "py-spy.txt"):
                        if (Path(tmp) / name).exists():
                            shutil.copy(Path(tmp) / name, Path(args.keep) / name)
            except BaseException:
                log.flush()
                lines = [line for line in log_path.read_text().splitlines() if '"POST /api/' not in line]
                print("\n".join(lines[-80:]))  # the log, less the access log's lines
                raise
            finally:
                stop_group(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
