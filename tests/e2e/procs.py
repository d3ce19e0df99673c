"""What the end-to-end tests share: free ports, a throwaway database beside the test one,
and the environment of a platform that runs in its own processes."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_postgres_url(suffix: str) -> str | None:
    """With DATABASE_URL set, a new empty database `<name>_<suffix>` on the same server."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return None
    import psycopg

    base, _, name = url.rpartition("/")
    target = f"{name or 'test'}_{suffix}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{target}"')
    return f"{base}/{target}"


def platform_env(tmp: Path, *, suffix: str) -> dict[str, str]:
    """Process environment of a platform with its own var directory, ports and databases
    (PostgreSQL and Redis when the suite runs against them, else the embedded defaults)."""
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
    )
    if database_url := fresh_postgres_url(suffix):
        env["DATABASE_URL"] = database_url
    if redis_url := os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = redis_url.rsplit("/", 1)[0] + "/14"  # its own Redis database
    return env
