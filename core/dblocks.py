"""MySQL/MariaDB named locks (GET_LOCK): held by a database session, not a transaction,
until released or until the session ends (a process that dies releases its locks).

Their names are server-wide, where PostgreSQL's advisory locks are per database: every name
is qualified by the database's, so two installs, or a test run, on one server never meet."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

# Longest wait (GET_LOCK has no "forever"; a negative wait is an error on MariaDB). Far above
# any holder's broker calls; past it the caller fails, having done nothing.
MYSQL_LOCK_WAIT_SECONDS = 120
MYSQL_LOCK_NAME_MAX = 64  # characters


class LockTimeout(RuntimeError):
    """A named lock stayed taken longer than the wait allowed."""


def mysql_lock_name(key: str) -> str:
    """The server-wide name of ``key``'s lock in this database: readable when it fits MySQL's 64
    characters, else a digest of it (a digest never collides in practice, and a collision would
    only make two keys wait for each other)."""
    name = f"{connection.settings_dict['NAME']}:{key}"
    if len(name) <= MYSQL_LOCK_NAME_MAX:
        return name
    return "openalgo:" + hashlib.blake2b(name.encode(), digest_size=24).hexdigest()


@contextmanager
def mysql_named_lock(key: str, *, wait: float = MYSQL_LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold ``key``'s named lock on this thread's connection for the block (re-entrant)."""
    name = mysql_lock_name(key)
    with connection.cursor() as cursor:
        cursor.execute("SELECT GET_LOCK(%s, %s)", [name, wait])
        (taken,) = cursor.fetchone()
    if taken != 1:  # 0: timed out; NULL: an error (killed, out of memory)
        raise LockTimeout(f"Lock {key!r} not acquired within {wait} s")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT RELEASE_LOCK(%s)", [name])


@contextmanager
def creation_turns(key: str) -> Iterator[None]:
    """Around "lock the row, or insert it": on MySQL, the inserters of one row take turns.

    Concurrent inserts of one unique key deadlock on InnoDB: each loser keeps a shared lock
    on the winner's row after its duplicate-key error, then every loser wants that row
    exclusively (FOR UPDATE). In turns, the next one's locking read waits for the row the
    previous one inserted, and finds it. Elsewhere this adds nothing: PostgreSQL's losers
    hold no such lock, and SQLite has one writer at a time."""
    if connection.vendor != "mysql":
        yield
        return
    with mysql_named_lock(f"create:{key}"):
        yield


def locked_get_or_create(manager: Any, *, defaults: dict[str, Any] | None = None,
                         **lookup: Any) -> tuple[Any, bool]:
    """``manager.select_for_update().get_or_create(...)``, in creation turns on MySQL."""
    rows = manager.select_for_update()
    if connection.vendor != "mysql":
        return rows.get_or_create(defaults=defaults, **lookup)
    found = rows.filter(**lookup).first()
    if found is not None:
        return found, False
    key = ",".join(f"{name}={getattr(value, 'pk', value)}" for name, value in sorted(lookup.items()))
    with creation_turns(f"{manager.model._meta.db_table}:{key}"):
        return rows.get_or_create(defaults=defaults, **lookup)
