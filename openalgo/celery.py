"""The Celery app: strategies, broker chores and the daily schedule run on workers."""

from __future__ import annotations

import logging
import os
import threading
from typing import IO, Any

from celery import Celery
from celery.beat import Service
from celery.schedules import crontab
from celery.signals import beat_init, worker_ready, worker_shutting_down

from core.filelock import try_lock

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")
# Celery's Django fixup runs Django's system checks when a worker or beat imports the task
# modules, and throws their result away; they load the whole URLconf (every view, DRF, the
# API schema: ~15 MB and a second of CPU) into processes that serve no URL. `make test` and
# `manage.py migrate` run the checks.
os.environ.setdefault("CELERY_SKIP_CHECKS", "true")

app = Celery("openalgo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(lambda: ["strategies"], related_name="tasks_hosted")
app.autodiscover_tasks(["strategies.telegram"])  # a package inside an app: its tasks.py too

log = logging.getLogger(__name__)
_beat_lock: IO[Any] | None = None  # held open for the life of the process that runs beat


@beat_init.connect
def one_beat_per_host(**_: object) -> None:
    """Beat (its own process, or a worker's thread) takes a lock in OPENALGO_VAR_DIR: a second
    beat on this host would send every scheduled task twice, so it stops instead."""
    global _beat_lock
    from django.conf import settings

    handle = open(settings.VAR_DIR / "beat.lock", "a+")  # noqa: SIM115 - kept open while beat runs
    if not try_lock(handle):
        handle.close()
        log.error("Another beat already runs on this host (%s is locked): this one stops. "
                  "Run either a beat process or a worker with WORKER_BEAT=true, not both.",
                  settings.VAR_DIR / "beat.lock")
        raise SystemExit(1)
    _beat_lock = handle


class EmbeddedBeat(threading.Thread):
    """Beat's scheduler in a thread of the worker (WORKER_BEAT=true): the schedule of a separate
    beat process, without the process. Celery's own `worker -B` forks a process for it."""

    def __init__(self, celery: Celery) -> None:
        super().__init__(name="beat", daemon=True)
        self.service = Service(celery, scheduler_cls=celery.conf.beat_scheduler)

    def run(self) -> None:
        self.service.start()

    def stop(self, timeout: float = 10) -> None:
        self.service.stop()
        self.join(timeout)  # the scheduler sleeps at most its max interval (5 s) between ticks


_embedded_beat: EmbeddedBeat | None = None


@worker_ready.connect
def start_embedded_beat(sender: Any = None, **_: object) -> None:
    global _embedded_beat
    from django.conf import settings

    if settings.WORKER_BEAT and _embedded_beat is None:
        _embedded_beat = EmbeddedBeat(app)
        _embedded_beat.start()


@worker_shutting_down.connect
def stop_embedded_beat(**_: object) -> None:
    if _embedded_beat is not None:
        _embedded_beat.stop()


@app.on_after_finalize.connect
def register_daily_schedule(sender: Celery, **_: object) -> None:
    """Daily expiry at SESSION_EXPIRY_TIME, in IST (the app's timezone)."""
    from django.conf import settings

    hour, minute = (int(part) for part in settings.SESSION_EXPIRY_TIME.split(":"))
    sender.conf.beat_schedule = {
        "expire-sessions-and-broker-tokens": {
            "task": "accounts.tasks.expire_sessions",
            "schedule": crontab(hour=hour, minute=minute),
        },
        # The paper exchange: settlement, square-off and crossed resting orders (a safety
        # net under the feed process's tick-driven fills), and the daily expiry roll.
        "sandbox-settle": {"task": "sandbox.settle", "schedule": 60.0},
        "worker-heartbeat": {"task": "accounts.tasks.worker_heartbeat", "schedule": 30.0},
        # Ledger against the brokers' books, and the daily loss limits (kill switch).
        "orders-reconcile": {"task": "orders.reconcile", "schedule": settings.RECONCILE_INTERVAL_SECONDS},
        # Order books of polled brokers (a fallback to the feed process's poller; one lease per account).
        "orders-poll-order-updates": {"task": "orders.poll_order_updates", "schedule": settings.ORDER_POLL_SECONDS,
                                      "options": {"expires": settings.ORDER_POLL_SECONDS}},
        # The dashboard's intraday P&L curve: one sample a minute per account that traded today.
        "orders-sample-pnl": {"task": "orders.sample_pnl", "schedule": 60.0, "options": {"expires": 60}},
        "orders-monitor-losses": {"task": "orders.monitor_losses", "schedule": settings.RISK_MONITOR_SECONDS},
        "purge-idempotency-keys": {"task": "orders.purge_idempotency_keys", "schedule": crontab(hour=4, minute=0)},
        "prune-api-request-log": {"task": "accounts.tasks.prune_request_log", "schedule": crontab(minute=17)},
        "purge-reconciliations": {"task": "orders.purge_reconciliations", "schedule": crontab(hour=4, minute=10)},
        "purge-telegram-alerts": {"task": "telegram.purge_alerts", "schedule": crontab(hour=4, minute=20)},
        # Live brokers publish the day's instruments early in the morning; once a day, not per login.
        "brokers-refresh-master-contracts": {
            "task": "brokers.refresh_master_contracts",
            "schedule": crontab(hour=settings.MASTER_CONTRACT_HOUR, minute=0),
        },
        # Hosted Python strategies: desired state (schedule, start/stop) against live processes.
        "strategies-hosted-supervise": {"task": "strategies.hosted_supervise",
                                        "schedule": settings.HOSTED_SUPERVISE_SECONDS,
                                        "options": {"expires": settings.HOSTED_SUPERVISE_SECONDS}},
        # Webhook strategies: square-off at each strategy's own time, and alerts whose worker was down.
        "strategies-square-off": {"task": "strategies.square_off", "schedule": 60.0, "options": {"expires": 55}},
        "strategies-requeue-alerts": {"task": "strategies.requeue_alerts", "schedule": 60.0,
                                      "options": {"expires": 55}},
        "sandbox-refresh-contracts": {
            "task": "sandbox.refresh_contracts",
            "schedule": crontab(hour=hour, minute=minute + 5 if minute < 55 else minute),
        },
    }
