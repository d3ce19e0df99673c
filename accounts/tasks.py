"""Celery tasks of the accounts app."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts import services
from accounts.brokers import contract_adapter
from accounts.models import Heartbeat
from brokers.contracts import load_master_contract


@shared_task(name="accounts.tasks.expire_sessions")
def expire_sessions() -> dict[str, int]:
    return services.expire_sessions()


@shared_task(name="accounts.tasks.worker_heartbeat")
def worker_heartbeat() -> str:
    """Runs on a worker every 30 s (beat): readiness knows a worker is consuming tasks."""
    Heartbeat.objects.update_or_create(name="worker", defaults={"at": timezone.now()})
    return "ok"


@shared_task(name="brokers.refresh_master_contracts")
def refresh_master_contracts() -> list[str]:
    """Once a day (beat): one load per live broker installed here, each its own task."""
    for broker in settings.BROKERS:
        refresh_master_contract.delay(broker)
    return list(settings.BROKERS)


@shared_task(name="brokers.refresh_master_contract")
def refresh_master_contract(broker: str) -> dict[str, int]:
    load = load_master_contract(broker, contract_adapter(broker).master_contract())
    return {"rows": load.rows, "skipped": load.skipped}
