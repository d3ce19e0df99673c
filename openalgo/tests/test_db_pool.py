"""The database connection settings (DB_POOL*, DB_CONN_*) as settings.py reads them, and, on
PostgreSQL, the pool itself: many threads share a few server connections, give every one
back, and leave the server as they found it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections

ROOT = Path(__file__).resolve().parents[2]

SETTINGS_CASES = r"""
import json, os, runpy, sys
cases = json.loads(sys.argv[1])
base = dict(os.environ)
out = []
for case in cases:
    os.environ.clear()
    os.environ.update(base)
    os.environ.update(case)
    try:
        db = runpy.run_path("openalgo/settings.py")["DATABASES"]["default"]
    except Exception as exc:
        out.append({"error": f"{type(exc).__name__}: {exc}"})
        continue
    pool = db.get("OPTIONS", {}).get("pool")
    if pool and "check" in pool:
        pool = {**pool, "check": pool["check"].__name__}
    out.append({"pool": pool, "max_age": db.get("CONN_MAX_AGE", "unset"),
                "health": db.get("CONN_HEALTH_CHECKS", "unset"), "engine": db["ENGINE"]})
print(json.dumps(out))
"""

POSTGRES = {"DATABASE_URL": "postgres://user@db.invalid:5432/openalgo"}


def read_settings(tmp_path, *cases: dict[str, str]) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    env.update(OPENALGO_VAR_DIR=str(tmp_path / "var"), OPENALGO_ENV_FILE=str(tmp_path / ".env"),
               SECRET_KEY="pool-test-not-secret", API_KEY_PEPPER="pool-test-not-secret",
               FERNET_KEYS="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    result = subprocess.run([sys.executable, "-c", SETTINGS_CASES, json.dumps(cases)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_pool_and_connection_settings_come_from_the_environment(tmp_path):
    default, tuned, unpooled, unpooled_60, conflict, bad, sqlite, sqlite_0 = read_settings(
        tmp_path,
        POSTGRES,
        {**POSTGRES, "DB_POOL_MIN": "1", "DB_POOL_MAX": "5", "DB_POOL_TIMEOUT": "2.5", "DB_POOL_MAX_IDLE": "30",
         "DB_POOL_MAX_LIFETIME": "120", "DB_POOL_CHECK": "true"},
        {**POSTGRES, "DB_POOL": "false"},
        {**POSTGRES, "DB_POOL": "false", "DB_CONN_MAX_AGE": "60", "DB_CONN_HEALTH_CHECKS": "false"},
        {**POSTGRES, "DB_CONN_MAX_AGE": "60"},
        {"DB_CONN_MAX_AGE": "forever"},
        {},
        {"DB_CONN_MAX_AGE": "0"},
    )
    assert default == {"pool": {"min_size": 2, "max_size": 20, "timeout": 10.0, "max_idle": 600.0,
                                "max_lifetime": 3600.0},
                       "max_age": 0, "health": "unset", "engine": "django.db.backends.postgresql"}
    assert tuned["pool"] == {"min_size": 1, "max_size": 5, "timeout": 2.5, "max_idle": 30.0, "max_lifetime": 120.0,
                             "check": "check_connection"}
    assert unpooled == {"pool": None, "max_age": None, "health": True, "engine": "django.db.backends.postgresql"}
    assert (unpooled_60["max_age"], unpooled_60["health"]) == (60, False)
    assert conflict["error"].startswith("ImproperlyConfigured: DB_CONN_MAX_AGE must be 0")
    assert "DB_CONN_MAX_AGE must be a number of seconds or 'none'" in bad["error"]
    assert sqlite == {"pool": None, "max_age": None, "health": True, "engine": "core.sqlite"}
    assert sqlite_0["max_age"] == 0


# --- PostgreSQL: the pool under threads ------------------------------------------------------------

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
THREADS, ROUNDS, POOL_MIN, POOL_MAX = 16, 5, 2, 4


def _observer():
    """A connection outside the pool that counts the server's backends on the test database."""
    import psycopg

    db = connection.settings_dict
    observer = psycopg.connect(dbname=db["NAME"], user=db["USER"] or None, password=db["PASSWORD"] or None,
                               host=db["HOST"] or None, port=db["PORT"] or None, autocommit=True)

    def backends() -> int:
        row = observer.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                               [db["NAME"]]).fetchone()
        assert row is not None
        return int(row[0])

    return observer, backends


def _settled(count) -> int:
    """The count once two reads 0.2 s apart agree (closed backends leave asynchronously)."""
    previous = count()
    for _ in range(50):
        time.sleep(0.2)
        current = count()
        if current == previous:
            return current
        previous = current
    return previous


def _wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only: the connection pool exists for DATABASE_URL=postgres://"
                    "...; this run uses " + settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1])
@pytest.mark.django_db(transaction=True)
def test_threads_share_the_pool_and_leak_no_connection():
    options = connection.settings_dict["OPTIONS"]
    configured = dict(options["pool"])
    observer, backends = _observer()
    connection.close()  # the test's own connection goes back to the pool...
    connection.close_pool()  # ...which closes, so the count starts from the server's baseline
    baseline = _settled(backends)
    # A pool smaller than the threads, so that sharing shows (the settings' own sizes are
    # checked above; the mechanism is the same).
    options["pool"] = {**configured, "min_size": POOL_MIN, "max_size": POOL_MAX}
    pids: set[int] = set()
    errors: list[BaseException] = []
    peak = [0]
    running = threading.Event()
    start = threading.Barrier(THREADS)

    def sample() -> None:
        while running.is_set():
            peak[0] = max(peak[0], backends())
            time.sleep(0.005)

    def work() -> None:
        try:
            start.wait(10)
            for _ in range(ROUNDS):
                with connections["default"].cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid(), pg_sleep(0.02)")
                    pids.add(cursor.fetchone()[0])
                connections["default"].close()  # back to the pool, as at the end of a request
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    try:
        running.set()
        sampler = threading.Thread(target=sample)
        sampler.start()
        workers = [threading.Thread(target=work) for _ in range(THREADS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        running.clear()
        sampler.join(10)
        assert not errors, errors
        assert not any(worker.is_alive() for worker in workers)

        stats = connection.pool.get_stats()
        # Reuse: 80 queries from 16 threads on at most POOL_MAX server connections.
        assert stats["requests_num"] >= THREADS * ROUNDS
        assert stats["connections_num"] <= POOL_MAX < stats["requests_num"]
        assert len(pids) <= POOL_MAX
        assert baseline < peak[0] <= baseline + POOL_MAX, (baseline, peak[0])
        # No leak: every connection is back in the pool, none is checked out, and the server
        # holds only the pool's own connections.
        assert stats["pool_available"] == stats["pool_size"]
        assert POOL_MIN <= stats["pool_size"] <= POOL_MAX
        assert _wait_for(lambda: backends() == baseline + connection.pool.get_stats()["pool_size"])
    finally:
        connection.close_pool()
        options["pool"] = configured
    assert _wait_for(lambda: backends() == baseline), (baseline, backends())
    observer.close()
