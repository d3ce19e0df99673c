"""Reconciliation run by several processes at once (every web process at its start, beat on
schedule): the lock a second run skips, and a row settled once even when two runs read it.
The same with real processes: tests/e2e/test_shared_state.py."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from orders import owners, reconcile
from orders.locks import lock_if_free, named_lock
from orders.models import LedgerStatus, Order, OrderEvent


def _on_another_thread(work, timeout: float = 60):
    """``work()`` run on a thread of its own (so with its own database connection): its result."""
    result = []

    def run() -> None:
        try:
            result.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout)
    return result[0]


def _lock_free_elsewhere(key: str) -> bool:
    """Whether another thread (its own database connection) could take ``key`` now."""

    def probe() -> bool:
        with lock_if_free(key) as mine:
            return mine

    return _on_another_thread(probe, 30)


def _sweep_in_another_thread():
    return _on_another_thread(reconcile.sweep_once)


@pytest.mark.django_db(transaction=True)
def test_a_held_lock_is_skipped_not_waited_for_and_free_again_after():
    with lock_if_free("reconcile:test") as mine:
        assert mine is True
        assert _lock_free_elsewhere("reconcile:test") is False
        assert _lock_free_elsewhere("reconcile:other") is True
    assert _lock_free_elsewhere("reconcile:test") is True
    with named_lock("reconcile:test"):  # the same lock as the waiting kind
        assert _lock_free_elsewhere("reconcile:test") is False


@pytest.mark.django_db(transaction=True)
def test_a_pair_another_run_holds_is_skipped_and_the_startup_sweep_runs_once(user, market):
    orphan = Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY",
                                  quantity=1, product="MIS", pricetype="MARKET",
                                  owner=owners.PROCESS.split(":", 1)[0] + ":99999999:12345")
    with lock_if_free(reconcile.STARTUP_LOCK):
        assert _sweep_in_another_thread() is None  # another process is sweeping: skipped
    with lock_if_free(reconcile.pair_lock_key(user.pk, "sandbox")):
        assert _sweep_in_another_thread() == []  # swept, but this pair is being reconciled elsewhere
    assert Order.objects.get(pk=orphan.pk).status == LedgerStatus.SUBMITTING
    runs = _sweep_in_another_thread()
    assert runs is not None and len(runs) == 1
    assert Order.objects.get(pk=orphan.pk).status == LedgerStatus.FAILED


def test_a_row_another_run_settled_meanwhile_is_not_moved_again(user, market):
    row = Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY",
                               quantity=1, product="MIS", pricetype="MARKET", owner="elsewhere:1:1")
    stale = Order.objects.get(pk=row.pk)  # what a second run read before the first settled it
    assert reconcile._settle(row, LedgerStatus.FAILED, message=reconcile.NEVER_SENT) is not None
    assert reconcile._settle(stale, LedgerStatus.FAILED, message=reconcile.NEVER_SENT) is None
    assert OrderEvent.objects.filter(order=row).count() == 1
    assert Order.objects.get(pk=row.pk).status == LedgerStatus.FAILED
