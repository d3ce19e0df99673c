"""The Celery app: strategies, broker chores and the daily schedule run on workers."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")

app = Celery("openalgo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(lambda: ["strategies"], related_name="tasks_hosted")
app.autodiscover_tasks(["strategies.telegram"])  # a package inside an app: its tasks.py too


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
