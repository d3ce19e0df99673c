"""Celery tasks of webhook strategies: run an accepted alert, square off at each
strategy's time, and queue again alerts whose worker was down or died."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import transaction

from strategies import services

log = logging.getLogger(__name__)

# How long an alert keeps being retried while an order's outcome is settled (a dead
# worker's order waits for reconciliation): after that the recovery sweep takes over.
MAX_RETRIES = 60


@shared_task(name="strategies.execute_alert", bind=True, acks_late=True, reject_on_worker_lost=True,
             max_retries=MAX_RETRIES, ignore_result=True)
def execute_alert(self: Any, alert_id: int) -> str:
    """acks_late: a worker killed mid-task leaves the message to be delivered again; the
    alert's idempotency keys make that second run place nothing new."""
    try:
        outcome = services.execute(alert_id)
    except Exception as exc:
        log.exception("Alert %s failed", alert_id)
        if self.request.retries >= 3:
            services.give_up(alert_id, f"Internal error: {type(exc).__name__}")
            return services.DONE
        raise self.retry(countdown=services.RETRY_SECONDS) from exc
    if outcome == services.PENDING and self.request.retries < MAX_RETRIES:
        raise self.retry(countdown=services.RETRY_SECONDS)
    return outcome


def send_alert(alert_id: int) -> None:
    """Hand an accepted (committed) alert to a worker. A broker outage here loses nothing:
    the alert is in the database and the recovery sweep queues it."""
    try:
        execute_alert.delay(alert_id)
    except Exception:
        log.exception("Could not queue alert %s; the recovery sweep will", alert_id)


def queue_alert(alert_id: int) -> None:
    transaction.on_commit(lambda: send_alert(alert_id))


@shared_task(name="strategies.requeue_alerts", ignore_result=True)
def requeue_alerts() -> int:
    """Beat (and worker start): alerts accepted but never finished go back in the queue."""
    ids = services.unfinished()
    for alert_id in ids:
        send_alert(alert_id)
    if ids:
        log.warning("Queued %d unfinished webhook alert(s) again", len(ids))
    return len(ids)


@shared_task(name="strategies.square_off", ignore_result=True)
def square_off() -> list[int]:
    """Beat, every minute: strategies whose square-off time has come close their positions."""
    return services.square_off_due()


@worker_ready.connect
def requeue_on_start(**_: object) -> None:
    """A worker that starts queues what the previous one accepted but never ran: at once,
    whatever their age (a running one is safe to run again: idempotency keys)."""
    try:
        ids = services.unfinished(older_than=timedelta(0))
        for alert_id in ids:
            send_alert(alert_id)
    except Exception:
        log.exception("Could not queue unfinished alerts at worker start")
