"""The audit trail: who did what, when, from where, in a hash chain nobody can edit
without it showing (issue: order actions, logins, key and credential changes, ...)."""

from __future__ import annotations

import hashlib
import json
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.locking import hold_until_commit
from accounts.models import AuditEvent
from core.values import json_safe

log = logging.getLogger(__name__)
GENESIS = "0" * 64
_LOCK_ID = 0x0A0D17  # the PostgreSQL advisory lock that orders appends
_LOCK_NAME = "audit-chain"  # its MySQL stand-in (accounts/locking.py)


def digest(prev_hash: str, at, actor: str, action: str, subject: str, detail: dict, ip: str) -> str:
    body = json.dumps([prev_hash, at.isoformat(), actor, action, subject, detail, ip], sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def record(action: str, *, actor: str = "", subject: str = "", detail: dict | None = None, ip: str = "") -> None:
    """Append one event. Never raises into the caller: a failure is logged loudly instead."""
    detail = json_safe(detail or {})
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_ID])
            elif connection.vendor == "mysql":
                hold_until_commit(_LOCK_NAME)
            prev = AuditEvent.objects.order_by("-pk").values_list("hash", flat=True).first() or GENESIS
            at = timezone.now()
            AuditEvent.objects.create(at=at, actor=actor, action=action, subject=subject, detail=detail, ip=ip,
                                      prev_hash=prev, hash=digest(prev, at, actor, action, subject, detail, ip))
    except Exception:
        log.exception("Audit event %s by %s could not be recorded", action, actor)


def verify() -> tuple[int, AuditEvent | None]:
    """Walk the chain: (events checked, the first broken event or None)."""
    prev, count = GENESIS, 0
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=2000):
        expected = digest(prev, event.at, event.actor, event.action, event.subject, event.detail, event.ip)
        if event.prev_hash != prev or event.hash != expected:
            return count, event
        prev, count = event.hash, count + 1
    return count, None


def client_ip(request) -> str:
    if request is None:
        return ""
    if getattr(settings, "BEHIND_TLS_PROXY", False):
        # Imported here, not at the top: this module loads with the accounts app in every
        # process (feed, worker, manage.py), and core.api brings DRF with it (~15 MB).
        from core.api.ratelimit import client_ip_behind_proxy

        return client_ip_behind_proxy(request)
    return request.META.get("REMOTE_ADDR", "")
