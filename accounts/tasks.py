"""Celery tasks of the accounts app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from accounts import live_events, request_log, services
from accounts.brokers import contract_adapter
from accounts.models import Heartbeat
from brokers.contracts import load_master_contract

if TYPE_CHECKING:
    from brokers.models import ContractLoad


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
def refresh_master_contract(broker: str, requested_by: int | None = None) -> dict[str, int]:
    """Download ``broker``'s master contract; the tabs of everyone with credentials there
    (and of ``requested_by``, who pressed "Download now") watch it run and end."""
    audience = live_events.contract_audience(broker, requested_by)
    loads: list[ContractLoad] = []

    def progress(load: ContractLoad) -> None:
        loads[:] = [load]
        live_events.contract_progress(audience, load)

    try:
        load = load_master_contract(broker, contract_adapter(broker).master_contract(), on_progress=progress)
    except Exception:
        if loads:  # the load started, then failed (not "another load is running")
            live_events.contract_finished(audience, loads[0])
        raise
    live_events.contract_finished(audience, load)
    return {"rows": load.rows, "skipped": load.skipped}


@shared_task(name="accounts.tasks.prune_request_log")
def prune_request_log() -> int:
    """Hourly (beat): the API request log keeps REQUEST_LOG_DAYS days, REQUEST_LOG_MAX_ROWS rows."""
    return request_log.prune()
