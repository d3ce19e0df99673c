"""Per-IP, per-endpoint limits in the contract's "N per second|minute|hour|day" syntax."""

from __future__ import annotations

import re
from functools import lru_cache

from django.conf import settings
from django_ratelimit.core import get_usage

from core.api.errors import RateLimited

_UNITS = {"second": "s", "minute": "m", "hour": "h", "day": "d"}
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(second|minute|hour|day|s|m|h|d)s?\s*$", re.IGNORECASE)


@lru_cache(maxsize=64)
def parse_limits(text: str) -> tuple[str, ...]:
    """'10 per second;100 per minute' -> ('10/s', '100/m'), django-ratelimit's syntax."""
    rates = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _LIMIT.match(part)
        if not match:
            raise ValueError(f"bad rate limit {part!r}: use 'N per second|minute|hour|day'")
        count, unit = match.groups()
        rates.append(f"{int(count)}/{_UNITS.get(unit.lower(), unit.lower())}")
    return tuple(rates)


def enforce(request, *, group: str, setting: str) -> None:
    """Count this request against every limit of ``setting``; raise RateLimited on a breach."""
    for rate in parse_limits(getattr(settings, setting)):
        usage = get_usage(request, group=group, key="ip", rate=rate, increment=True)
        if usage and usage["should_limit"]:
            raise RateLimited(retry_after=max(1, int(usage["time_left"])))


def client_ip_behind_proxy(request) -> str:
    """The client address as our TLS proxy saw it (``BEHIND_TLS_PROXY``).

    The proxy appends the peer it accepted to ``X-Forwarded-For``; entries before it were
    sent by the client and can be forged, so the last one is the only trustworthy hop."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return hops[-1] if hops else request.META.get("REMOTE_ADDR", "")
