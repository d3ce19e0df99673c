"""The analyzer log (spec §10.2): every request answered in analyze mode, key stripped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.values import json_safe
from orders.models import AnalyzerLog

if TYPE_CHECKING:
    from accounts.models import User


def record_analyzed(*, user: User, endpoint: str, request: Mapping[str, Any] | None,
                    response: Mapping[str, Any]) -> None:
    shown = {k: str(v) if not isinstance(v, (list, dict, int, float, bool, str)) else v
             for k, v in (request or {}).items() if k != "apikey"}
    AnalyzerLog.objects.create(user=user, endpoint=endpoint, request=json_safe(shown),
                               response=json_safe(dict(response)))


def analyzer_log_count(user: User) -> int:
    return AnalyzerLog.objects.filter(user=user).count()
