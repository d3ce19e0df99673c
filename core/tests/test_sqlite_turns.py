"""The embedded defaults' SQLite backend: writers take turns in arrival order (core/sqlite/base.py),
on a database file of the test's own whatever the suite's database is."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from django.db.utils import ConnectionHandler, OperationalError

from core.sqlite.base import FairLock, turns_for


@pytest.fixture(autouse=True)
def _own_databases(django_db_blocker):
    """These tests open their own SQLite files, not the suite's database."""
    with django_db_blocker.unblock():
        yield


def _handler(path, timeout: float = 20) -> ConnectionHandler:
    return ConnectionHandler({"default": {
        "ENGINE": "core.sqlite", "NAME": str(path),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": timeout,
                    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"}}})


def _in_thread(handler: ConnectionHandler, work) -> threading.Thread:
    def run() -> None:
        try:
            work(handler["default"])
        finally:
            handler["default"].close()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_the_fair_lock_wakes_its_waiters_in_arrival_order():
    lock, order = FairLock(), []
    assert lock.acquire(1)
    threads = []
    for n in range(5):
        threads.append(threading.Thread(target=lambda n=n: (lock.acquire(5), order.append(n), lock.release())))
        threads[-1].start()
        time.sleep(0.05)  # each waiter queued before the next arrives
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_a_waiter_whose_time_runs_out_gives_up_and_leaves_the_queue():
    lock = FairLock()
    assert lock.acquire(1)
    started = time.monotonic()
    assert lock.acquire(0.1) is False
    assert time.monotonic() - started >= 0.09
    lock.release()
    assert lock.acquire(0.1) is True  # nobody left queued holds it


def test_concurrent_writers_of_one_process_all_commit_and_none_is_refused(tmp_path):
    handler = _handler(tmp_path / "db.sqlite3")
    with handler["default"].cursor() as cursor:
        cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, writer INTEGER, n INTEGER)")
    handler["default"].close()
    errors: list[BaseException] = []

    def writer(number: int):
        def work(conn) -> None:
            try:
                for n in range(25):
                    if n % 2:  # a transaction ...
                        conn.set_autocommit(False)
                        with conn.cursor() as cursor:
                            cursor.execute("INSERT INTO t (writer, n) VALUES (%s, %s)", [number, n])
                        conn.commit()
                        conn.set_autocommit(True)
                    else:  # ... and a statement on its own
                        with conn.cursor() as cursor:
                            cursor.execute("INSERT INTO t (writer, n) VALUES (%s, %s)", [number, n])
            except BaseException as exc:  # pragma: no cover - the assertion below shows it
                errors.append(exc)
        return work

    threads = [_in_thread(handler, writer(number)) for number in range(8)]
    for thread in threads:
        thread.join(60)
    assert errors == []
    with handler["default"].cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COUNT(DISTINCT writer) FROM t")
        assert cursor.fetchone() == (200, 8)
    handler["default"].close()


def test_a_write_waits_for_the_open_transaction_and_reads_do_not(tmp_path):
    handler = _handler(tmp_path / "db.sqlite3")
    conn = handler["default"]
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.set_autocommit(False)
    with conn.cursor() as cursor:
        cursor.execute("INSERT INTO t (id) VALUES (1)")  # the turn is held until commit
    done: dict[str, float] = {}

    def read(other) -> None:
        with other.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM t")
        done["read"] = time.monotonic()

    def write(other) -> None:
        with other.cursor() as cursor:
            cursor.execute("INSERT INTO t (id) VALUES (2)")
        done["write"] = time.monotonic()

    reader = _in_thread(handler, read)
    writer = _in_thread(handler, write)
    reader.join(5)
    time.sleep(0.2)
    assert "read" in done and "write" not in done
    committed = time.monotonic()
    conn.commit()
    conn.set_autocommit(True)
    writer.join(5)
    assert done["write"] >= committed
    conn.close()


def test_a_writer_of_another_process_holding_the_turn_past_the_timeout_gives_database_is_locked(tmp_path):
    path = tmp_path / "db.sqlite3"
    handler = _handler(path, timeout=0.3)
    with handler["default"].cursor() as cursor:
        cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    turn_file = turns_for(str(path)).path
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({turn_file!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OperationalError, match="database is locked"), handler["default"].cursor() as cursor:
            cursor.execute("INSERT INTO t (id) VALUES (1)")
    finally:
        holder.communicate("\n", timeout=5)
    with handler["default"].cursor() as cursor:  # the turn was given back: the next write goes through
        cursor.execute("INSERT INTO t (id) VALUES (1)")
        cursor.execute("SELECT COUNT(*) FROM t")
        assert cursor.fetchone() == (1,)
    handler["default"].close()
