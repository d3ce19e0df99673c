"""Locks held by a transaction until it ends, on MySQL/MariaDB.

PostgreSQL has transaction-level advisory locks and LOCK TABLE; SQLite's writing
transactions (BEGIN IMMEDIATE) hold the whole database's write lock from their start.
MySQL's named locks (GET_LOCK) belong to the session, not the transaction: released when
the code that took them exits, they would let a second writer in before an outer
transaction commits. A row lock ends exactly with the transaction, so on MySQL a named
critical section is a row of ``TransactionLock`` held FOR UPDATE."""

from __future__ import annotations

from django.db import connection, transaction

from accounts.models import TransactionLock
from core.dblocks import creation_turns


def hold_until_commit(name: str) -> None:
    """Wait for, then hold until the current transaction commits or rolls back, the lock
    called ``name`` (at most 64 characters). Call it inside ``transaction.atomic()``."""
    if not connection.in_atomic_block:
        raise RuntimeError("hold_until_commit() outside a transaction would hold nothing")
    if _lock_row(name):
        return
    # No row yet (a fresh database, a test's flush): its creators take turns (no deadlock).
    with creation_turns(f"transaction-lock:{name}"):
        if not _lock_row(name):
            with transaction.atomic():
                TransactionLock.objects.create(name=name)  # a new row is locked until commit


def _lock_row(name: str) -> bool:
    rows = TransactionLock.objects.select_for_update().filter(name=name).values_list("name", flat=True)
    return rows.first() is not None
