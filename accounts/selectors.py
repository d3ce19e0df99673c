"""The accounts app's reads for other apps and the project's wiring."""

from __future__ import annotations

from datetime import datetime

from accounts.models import Heartbeat


def last_heartbeat(name: str) -> datetime | None:
    """When the process kind ``name`` (e.g. "worker") last said it was alive, if ever."""
    return Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()
