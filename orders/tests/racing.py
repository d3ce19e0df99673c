"""Races for the concurrency tests: one call run by several threads released at the same
instant, each on its own database connection."""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Callable, Iterator

from django.db import connection

from core.dblocks import mysql_lock_name
from orders import locks


def race(call: Callable[[], object], *, threads: int = 4) -> list:
    """What ``call()`` returned in each thread, or the exception it raised there."""
    start = threading.Barrier(threads)
    outcomes: list = []

    def racer() -> None:
        try:
            start.wait(10)
            outcomes.append(call())
        except Exception as exc:  # returned to the test, which asserts on it
            outcomes.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=racer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return outcomes


@contextlib.contextmanager
def held_by_another_process(key: str) -> Iterator[None]:
    """``key``'s named lock (orders/locks.py) taken the way another process of the platform,
    on this host or another, takes it: on a database session of its own, outside Django's
    connections and this process's thread locks; released on leaving."""
    params = connection.settings_dict
    if connection.vendor == "mysql":
        import MySQLdb

        other = MySQLdb.connect(host=params["HOST"], port=int(params["PORT"] or 3306), user=params["USER"],
                                password=params["PASSWORD"], database=params["NAME"])
        cursor = other.cursor()
        cursor.execute("SELECT GET_LOCK(%s, 0)", [mysql_lock_name(key)])
        assert cursor.fetchone()[0] == 1
        try:
            yield
        finally:
            other.close()  # a session's named locks end with it, as when a process dies
    elif connection.vendor == "postgresql":
        import psycopg

        with psycopg.connect(host=params["HOST"], port=params["PORT"] or 5432, user=params["USER"],
                             password=params["PASSWORD"], dbname=params["NAME"], autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", [locks._key_id(key)])
            yield
    else:
        with open(locks.lock_file(key), "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
