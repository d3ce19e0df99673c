"""Per-(user, symbol) and per-user mutual exclusion across every web and worker process, held outside
any transaction so the ledger row can commit before the broker call (design.md).

PostgreSQL: a session-level advisory lock. MySQL/MariaDB: a session-level named lock
(``GET_LOCK``), its name qualified by the database's (MySQL's names are server-wide, PostgreSQL's
per database). SQLite (one machine by definition): an exclusive lock on a file in the var
directory (``flock`` on POSIX, ``msvcrt.locking`` on Windows: core/filelock.py), plus a thread
lock per key.

``lock_if_free`` is the same lock without waiting: a job that another process is already
doing (a reconciliation, a startup sweep) is skipped rather than done twice."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from core import filelock
from core.dblocks import LockTimeout, mysql_named_lock

_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _key_id(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def lock_file(key: str) -> Path:
    """The file whose ``flock`` is ``key``'s lock on SQLite."""
    directory = Path(settings.VAR_DIR) / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{_key_id(key) & 0xFFFFFFFFFFFF:012x}.lock"


def _thread_lock(key: str) -> threading.Lock:
    with _guard:
        return _thread_locks.setdefault(key, threading.Lock())


@contextmanager
def symbol_lock(user_id: int, exchange: str, symbol: str, product: str) -> Iterator[None]:
    with named_lock(symbol_key(user_id, exchange, symbol, product)):
        yield


def symbol_key(user_id: int, exchange: str, symbol: str, product: str) -> str:
    return f"{user_id}:{exchange}:{symbol}:{product}"


@contextmanager
def user_lock(user_id: int) -> Iterator[None]:
    """One user's pre-trade checks and ledger inserts, one at a time (orders/risk.py). Taken
    inside a symbol lock, never around one, so the two never deadlock."""
    with named_lock(f"user:{user_id}"):
        yield


@contextmanager
def named_lock(key: str) -> Iterator[None]:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_key_id(key)])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_key_id(key)])
        return
    if connection.vendor == "mysql":
        with mysql_named_lock(key):
            yield
        return
    with _thread_lock(key), open(lock_file(key), "a+") as handle, filelock.locked(handle):
        yield


@contextmanager
def lock_if_free(key: str) -> Iterator[bool]:
    """Hold ``key``'s lock for the block if no process (or thread) holds it now, and say
    whether it was taken; never waits. The same lock as ``named_lock``, so the two exclude
    each other."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_key_id(key)])
            (taken,) = cursor.fetchone()
        if not taken:
            yield False
            return
        try:
            yield True
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_key_id(key)])
        return
    if connection.vendor == "mysql":
        with ExitStack() as stack:
            try:
                stack.enter_context(mysql_named_lock(key, wait=0))
            except LockTimeout:
                yield False
                return
            yield True
        return
    thread_lock = _thread_lock(key)
    if not thread_lock.acquire(blocking=False):
        yield False
        return
    try:
        with open(lock_file(key), "a+") as handle:
            if not filelock.try_lock(handle):
                yield False
                return
            try:
                yield True
            finally:
                filelock.unlock(handle)
    finally:
        thread_lock.release()
