"""The analyzer log (spec §10.2): every request answered in analyze mode, key stripped, told
to the user's open tabs as ``analyzer_update`` (websocket.md §9) once it is stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet

from core import uievents
from core.values import IST, json_safe
from orders.models import AnalyzerLog

if TYPE_CHECKING:
    from accounts.models import User

SECRET_KEYS = frozenset({"apikey", "api_key"})


def without_secrets(value: Any) -> Any:
    """``value`` with every API key removed, at any depth (a basket's items included)."""
    if isinstance(value, Mapping):
        return {k: without_secrets(v) for k, v in value.items() if str(k).lower() not in SECRET_KEYS}
    if isinstance(value, (list, tuple)):
        return [without_secrets(v) for v in value]
    return value


def record_analyzed(*, user: User, endpoint: str, request: Mapping[str, Any] | None,
                    response: Mapping[str, Any]) -> None:
    shown = {k: str(v) if not isinstance(v, (list, dict, int, float, bool, str)) else v
             for k, v in (request or {}).items()}
    row = AnalyzerLog.objects.create(user=user, endpoint=endpoint, request=json_safe(without_secrets(shown)),
                                     response=json_safe(without_secrets(dict(response))))
    event = {"request": {**row.request, "api_type": endpoint}, "response": row.response, "id": row.pk}
    user_id = user.pk
    transaction.on_commit(lambda: uievents.publish(user_id, "analyzer_update", event))


def analyzer_log_count(user: User) -> int:
    return AnalyzerLog.objects.filter(user=user).count()


@dataclass(frozen=True, slots=True)
class LogFilter:
    """What the analyzer log page narrows to; empty fields do not filter."""

    api_type: str = ""
    symbol: str = ""
    status: str = ""  # "success" | "error" | ""
    day_from: date | None = None
    day_to: date | None = None


def analyzer_logs(user: User, where: LogFilter | None = None) -> QuerySet[AnalyzerLog]:
    """The user's analyzer log, newest first, narrowed by ``where`` (days are IST days)."""
    rows = AnalyzerLog.objects.filter(user=user)
    where = where or LogFilter()
    if where.api_type:
        rows = rows.filter(endpoint=where.api_type)
    if where.symbol:
        rows = rows.filter(request__symbol__iexact=where.symbol.strip())
    if where.status:
        rows = rows.filter(response__status=where.status)
    if where.day_from:
        rows = rows.filter(created_at__gte=datetime.combine(where.day_from, time.min, IST))
    if where.day_to:
        rows = rows.filter(created_at__lt=datetime.combine(where.day_to + timedelta(days=1), time.min, IST))
    return rows.order_by("-created_at", "-pk")


def analyzer_api_types(user: User) -> list[str]:
    return list(AnalyzerLog.objects.filter(user=user).values_list("endpoint", flat=True).distinct()
                .order_by("endpoint"))
