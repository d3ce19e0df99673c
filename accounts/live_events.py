"""What the accounts app tells a trader's open tabs (core.uievents): a broker session
that opened, ended or expired (``broker_session``), and a master-contract download's
progress (``master_contract_progress``) and end (``cache_loaded``). Every event is sent
after the change commits, so a tab that re-fetches on it reads the new state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from accounts.models import BrokerCredential
from brokers.models import ContractLoad
from core import uievents

BROKER_SESSION = "broker_session"
CONTRACT_PROGRESS = "master_contract_progress"
CACHE_LOADED = "cache_loaded"


def broker_session_changed(*, user_id: int, broker: str, expires_at: datetime | None) -> None:
    """The user's session at ``broker`` now ends at ``expires_at`` (None: no session)."""
    data = {"broker": broker, "live": expires_at is not None,
            "expires_at": expires_at.isoformat() if expires_at else None}
    transaction.on_commit(lambda: uievents.publish(user_id, BROKER_SESSION, data))


def contract_audience(broker: str, requested_by: int | None = None) -> set[int]:
    """Who watches ``broker``'s master contract: every user with credentials there, and
    whoever asked for this download."""
    users = set(BrokerCredential.objects.filter(broker=broker).values_list("user_id", flat=True))
    if requested_by is not None:
        users.add(requested_by)
    return users


def _progress(load: ContractLoad) -> dict:
    return {"broker": load.broker, "status": str(load.state), "rows": load.rows, "skipped": load.skipped,
            "percent": load.percent, "message": load.message}


def contract_progress(users: Iterable[int], load: ContractLoad) -> None:
    """A download's state now (running with its rows so far, live or failed)."""
    data = _progress(load)
    audience = list(users)

    def send() -> None:
        for user_id in audience:
            uievents.publish(user_id, CONTRACT_PROGRESS, data)

    transaction.on_commit(send)


def contract_finished(users: Iterable[int], load: ContractLoad) -> None:
    """The symbol cache of ``load.broker`` is loaded (or the download failed): websocket.md §9's
    ``cache_loaded``."""
    if load.state == ContractLoad.State.LIVE:
        data: dict = {"status": "success", "broker": load.broker, "total_symbols": load.rows}
    else:
        data = {"status": "error", "broker": load.broker, "message": load.message or "download failed"}
    audience = list(users)

    def send() -> None:
        for user_id in audience:
            uievents.publish(user_id, CACHE_LOADED, data)

    transaction.on_commit(send)
