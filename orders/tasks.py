"""Celery tasks of the orders app."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="orders.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    from orders.idempotency import purge

    return purge()
