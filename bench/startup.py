"""`make run` in a fresh clone: time to the first answer on the first start (empty database:
migrations, static files, the sandbox's instruments) and on the second start (nothing to
prepare; goal <= 5 s), then the memory of the idle platform, process by process (goal
<= 400 MB in total on the embedded defaults). Not a test.

References measured in the same run, on the same (loaded) machine:
- a bare daphne serving a trivial ASGI app: spawn to first answer;
- a bare interpreter that runs `django.setup()` with these settings: its time and RSS.

The clone shares this checkout's installed .venv (`make -o install run`: nothing is
installed). Python writes its bytecode caches as on a user's machine
(PYTHONDONTWRITEBYTECODE is dropped), so the first start also compiles the project.

Usage: python bench/startup.py [--idle SECONDS]"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ping import ROOT, descendants, free_port, stop_group

GOAL_SECOND_START = 5.0
GOAL_TOTAL_MB = 400
# Command-line fragments that name each process of `make run` (web, ws, feed, worker, beat;
# on one feed-server process the feed process serves the feed itself and there is no ws).
ROLES = (("feed_asgi", "ws"), ("daphne", "web"), ("uvicorn", "web"), ("gunicorn", "web"), ("runfeed", "feed"),
         ("feed", "feed"), (" beat", "beat"), ("worker", "worker"))


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def wait_for_answer(url: str, started: float, proc: subprocess.Popen, timeout: float = 600) -> float | None:
    while time.monotonic() - started < timeout and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
    return None


def wait_for_universe(stamp: Path, timeout: float = 300) -> None:
    """The first start loads the sandbox's instruments in a child while the platform starts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and '"universe"' not in (stamp.read_text() if stamp.exists() else ""):
        time.sleep(0.5)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (the interpreter, libraries) split among the
    processes that map them, so the sum over processes is what they hold together."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:  # the process is gone
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith("Pss:")), 0.0)


def platform_processes(root: int) -> list[tuple[str, int, float]]:
    """(role, pid, RSS MB) of every Python process under ``root`` (make -> honcho -> shells)."""
    rows = []
    for pid in descendants(root):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if "python" not in Path(exe).name or "honcho" in cmdline:
            continue
        role = next((name for fragment, name in ROLES if fragment in cmdline), cmdline[:60])
        rows.append((role, pid, rss_mb(pid)))
    return sorted(rows)


def start(clone: Path, env: dict, log_path: Path) -> tuple[subprocess.Popen, float]:
    log = open(log_path, "a")  # noqa: SIM115 - lives as long as the process
    started = time.monotonic()
    # -o install: the clone's .venv is this checkout's, installed already.
    proc = subprocess.Popen(["make", "-o", "install", "run"], cwd=clone, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    return proc, started


def bare_daphne(env: dict, tmp: Path) -> float:
    """Spawn to first answer of daphne serving a trivial ASGI app (no Django)."""
    (tmp / "trivial_asgi.py").write_text(textwrap.dedent("""
        async def application(scope, receive, send):
            if scope["type"] == "http":
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"ok"})
    """))
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-p", str(port), "trivial_asgi:application"],
                            cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        elapsed = wait_for_answer(f"http://127.0.0.1:{port}/", started, proc, timeout=60)
    finally:
        stop_group(proc, timeout=10)
    return elapsed or float("nan")


def bare_setup(env: dict, clone: Path) -> tuple[float, float]:
    """Seconds and RSS (MB) of an interpreter that only runs django.setup()."""
    code = ("import os, time; t = time.monotonic(); import django; "
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'openalgo.settings'); django.setup(); "
            "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]; "
            "print(time.monotonic() - t, int(rss) / 1024)")
    out = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c", code], cwd=clone, env=env,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle", type=float, default=20, help="seconds idle before memory is read")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-startup-") as tmp_name:
        tmp = Path(tmp_name)
        clone = tmp / "openalgo"
        subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(clone)], check=True)
        (clone / ".venv").symlink_to((ROOT / ".venv").resolve())
        if (ROOT / ".venv-strategies").exists():
            (clone / ".venv-strategies").symlink_to((ROOT / ".venv-strategies").resolve())
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV", "PYTHONDONTWRITEBYTECODE",
                            "OPENALGO_VAR_DIR", "OPENALGO_ENV_FILE", "DJANGO_SETTINGS_MODULE")}
        env.update(PORT=str(free_port()), WS_PORT=str(free_port()),
                   ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}")
        url = f"http://127.0.0.1:{env['PORT']}/"
        log_path = tmp / "run.log"
        figures: dict[str, float | None] = {}
        memory: list[tuple[str, int, float]] = []
        pss: dict[int, float] = {}
        for attempt in ("first", "second"):
            proc, started = start(clone, env, log_path)
            try:
                figures[attempt] = wait_for_answer(url, started, proc)
                if attempt == "second" and figures[attempt] is not None:
                    time.sleep(args.idle)
                    memory = platform_processes(proc.pid)
                    pss = {pid: pss_mb(pid) for _, pid, _ in memory}
                elif attempt == "first":
                    wait_for_universe(clone / "var" / "prepared.json")  # then the second start has nothing to do
            finally:
                stop_group(proc, timeout=30)
            if figures[attempt] is None:
                print(f"startup: the {attempt} start never answered; log follows", file=sys.stderr)
                print(log_path.read_text()[-4000:], file=sys.stderr)
                return 1
        daphne_reference = bare_daphne(env, tmp)
        setup_seconds, setup_mb = bare_setup(env, clone)
    load = load_average()
    first, second = figures["first"] or 0.0, figures["second"] or 0.0
    print(f"startup (load average {load}; {os.cpu_count()} CPUs)")
    print(f"  first start (empty database): `make run` -> first answer in {first:.1f} s")
    print(f"  second start (nothing to prepare): {second:.1f} s (goal <= {GOAL_SECOND_START:.0f} s) "
          f"{'OK' if second <= GOAL_SECOND_START else 'OVER GOAL'}")
    print(f"  reference: bare daphne with a trivial ASGI app answers in {daphne_reference:.2f} s; "
          f"a bare django.setup() takes {setup_seconds:.2f} s")
    total = sum(mb for _, _, mb in memory)
    print(f"memory, idle {args.idle:.0f} s after the second start (RSS):")
    for role, pid, mb in memory:
        print(f"  {role:8s} pid {pid:7d} {mb:6.1f} MB  (PSS {pss[pid]:6.1f} MB)")
    print(f"  total {total:.0f} MB in {len(memory)} processes (goal <= {GOAL_TOTAL_MB} MB) "
          f"{'OK' if total <= GOAL_TOTAL_MB else 'OVER GOAL'}; PSS total {sum(pss.values()):.0f} MB")
    print(f"  reference: a bare django.setup() interpreter holds {setup_mb:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
