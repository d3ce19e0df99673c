"""Celery tasks of the paper exchange: periodic settlement and the daily contract roll."""

from __future__ import annotations

from celery import shared_task

from brokers.sandbox import exchange, sessions
from brokers.sandbox.contracts import load_sandbox_universe


@shared_task(name="sandbox.settle")
def settle() -> dict[str, int]:
    """Roll accounts to the current session, square off what is due, fill crossed orders."""
    return {"squared_off": sessions.square_off_all_due(), "filled": exchange.sweep()}


@shared_task(name="sandbox.refresh_contracts")
def refresh_contracts() -> int:
    """Add the contracts of newly listed expiries so chains roll forward by themselves."""
    return load_sandbox_universe()
