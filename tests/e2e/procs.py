"""What the end-to-end tests share: free ports, a throwaway database beside the test one,
and the environment of a platform that runs in its own processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database_url(suffix: str) -> str | None:
    """With DATABASE_URL set (PostgreSQL or MySQL/MariaDB), a new empty database
    `<name>_<suffix>` on the same server."""
    url = os.environ.get("DATABASE_URL", "")
    base, _, name = url.rpartition("/")
    target = f"{name or 'test'}_{suffix}"
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{target}"')
        return f"{base}/{target}"
    if url.startswith("mysql://"):
        import environ
        import MySQLdb

        server = environ.Env.db_url_config(url)
        conn = MySQLdb.connect(host=server["HOST"], port=int(server["PORT"] or 3306), user=server["USER"],
                               password=server["PASSWORD"])
        try:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{target}`")
            conn.cursor().execute(f"CREATE DATABASE `{target}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        return f"{base}/{target}"
    return None


def platform_env(tmp: Path, *, suffix: str, servers: int = 1) -> dict[str, str]:
    """Process environment of a platform with its own var directory, ports and databases
    (PostgreSQL or MySQL, and Redis, when the suite runs against them, else the embedded
    defaults). ``servers`` HTTP processes and as many feed-server processes
    (WEB_CONCURRENCY, FEED_PROCESSES): the feed tests ask for two, so they run what a
    multi-core host runs (clients spread over processes that share nothing but the bus, the
    database and Redis); the others keep one of each, which keeps CI inside its time."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        OPENALGO_VAR_DIR=str(tmp / "var"),
        OPENALGO_ENV_FILE=str(tmp / ".env"),
        HOST="127.0.0.1",
        PORT=str(free_port()),
        WS_PORT=str(free_port()),
        ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
        ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
        PATH=f"{BIN}:{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        WEB_CONCURRENCY=str(servers),
        FEED_PROCESSES=str(servers),
    )
    if database_url := fresh_database_url(suffix):
        env["DATABASE_URL"] = database_url
    if redis_url := os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = redis_url.rsplit("/", 1)[0] + "/14"  # its own Redis database
    return env


def deploy(tmp: Path, *, suffix: str, username: str, **extra_env: str) -> dict:
    """A migrated platform with the sandbox loaded and one user; returns its environment,
    the user's API key and its folder."""
    env = {**platform_env(tmp, suffix=suffix), **extra_env}
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v0"], ["loadsandbox"],
                    ["shell", "-c", f"from accounts.models import User; User.objects.create_user({username!r})"]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    key = subprocess.run([*manage, "apikey", username], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True, timeout=120).stdout.splitlines()[-1]
    return {"env": env, "key": key, "tmp": tmp}


@contextlib.contextmanager
def honcho(env: dict[str, str], log_path: Path, *, ready: Callable[[], bool], what: str = "web"):
    """`make run`'s process set (the Procfile under honcho) with ``env``; yields the honcho
    process once ``ready()`` is true (within 120 s: seven Django processes start at once on
    two cores), and stops the whole process group after (Ctrl-C, then SIGKILL if it lingers)."""
    log = open(log_path, "w+")
    proc = subprocess.Popen([str(BIN / "honcho"), "start", "-f", "Procfile"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert proc.poll() is None, "honcho exited: " + log_path.read_text()
            assert time.monotonic() < deadline, f"{what} did not come up in 120 s"
            time.sleep(0.3)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def serving_pid(server_port: int, client: socket.socket) -> int | None:
    """The process that holds the server side of ``client``'s TCP connection to
    ``server_port`` on loopback (Linux: /proc), i.e. the one that accepted it; None if none
    does (yet)."""
    client_port = client.getsockname()[1]
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                local, remote = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)
                if local == server_port and remote == client_port and fields[9] != "0":
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return int(pid)
    return None


def parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


class Web:
    """One HTTP process of a deployment, as the Procfile starts it (uvicorn, one worker: the
    server runs in the process itself), on a free port; returns once it answers ping."""

    def __init__(self, deployment: dict, **extra_env: str) -> None:
        from openalgo.process import command_for

        self.port = free_port()
        self.log = open(deployment["tmp"] / f"web-{self.port}.log", "w+")
        env = {**deployment["env"], **extra_env, "PORT": str(self.port), "WEB_CONCURRENCY": "1"}
        argv = command_for("web", env=env, windows=False)
        assert argv[:3] == ["python", "-m", "uvicorn"], argv
        self.proc = subprocess.Popen([sys.executable, *argv[1:]], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.origin = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.origin}/api/v1/"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.post(self.url + "ping", json={"apikey": deployment["key"]}, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, "the web process did not answer ping in 60 s"
            time.sleep(0.2)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.log.close()
