"""Celery tasks of the orders app."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from orders import killswitch, pnl
from orders.idempotency import purge
from orders.models import Reconciliation
from orders.reconcile import reconcile_all


@shared_task(name="orders.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    return purge()


@shared_task(name="orders.reconcile")
def reconcile() -> dict:
    """Beat: every account with working or unanswered orders, or orders today, against its broker."""
    runs = reconcile_all(trigger="beat")
    return {"accounts": len(runs), "fixed": sum(len(r.fixed) for r in runs),
            "differences": sum(len(r.differences) for r in runs), "errors": sum(bool(r.error) for r in runs)}


@shared_task(name="orders.poll_order_updates", ignore_result=True)
def poll_order_updates() -> int:
    """Beat: the due order books of polled brokers, once each (the same lease as the feed's poller)."""
    from orders.order_updates import OrderBookPoller

    return OrderBookPoller().poll_once().polled


@shared_task(name="orders.monitor_losses")
def monitor_losses() -> int:
    """Beat: daily loss limits between orders; returns how many kill switches it engaged."""
    return killswitch.monitor_losses()


@shared_task(name="orders.purge_reconciliations")
def purge_reconciliations() -> int:
    """Daily: runs that found nothing are kept a day, the others thirty days."""



    now = timezone.now()
    quiet = Q(fixed=[], differences=[], error="")
    deleted, _ = Reconciliation.objects.filter(
        (quiet & Q(at__lt=now - timedelta(days=1))) | Q(at__lt=now - timedelta(days=30))).delete()
    return deleted


@shared_task(name="orders.sample_pnl", ignore_result=True)
def sample_pnl() -> int:
    """Beat, every minute: the day P&L of the accounts that traded today (the dashboard's curve)."""
    return pnl.sample_active_accounts()
