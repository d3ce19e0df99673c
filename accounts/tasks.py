"""Celery tasks of the accounts app."""

from __future__ import annotations

from celery import shared_task

from accounts import services


@shared_task(name="accounts.tasks.expire_sessions")
def expire_sessions() -> dict[str, int]:
    return services.expire_sessions()
