"""Celery tasks of the accounts app."""

from __future__ import annotations

from celery import shared_task

from accounts import services


@shared_task(name="accounts.tasks.expire_sessions")
def expire_sessions() -> dict[str, int]:
    return services.expire_sessions()


@shared_task(name="accounts.tasks.worker_heartbeat")
def worker_heartbeat() -> str:
    """Runs on a worker every 30 s (beat): readiness knows a worker is consuming tasks."""
    from django.utils import timezone

    from accounts.models import Heartbeat

    Heartbeat.objects.update_or_create(name="worker", defaults={"at": timezone.now()})
    return "ok"
