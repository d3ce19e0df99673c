"""The day's P&L over time, for the dashboard's intraday curve: one sample per account and
minute at most, written by the beat (accounts that traded today) and when the dashboard
is opened. Cheap and bounded: an insert per account-minute, samples kept SAMPLE_DAYS."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.utils import timezone

from brokers.base import Position
from orders.models import Order, PnlSample
from orders.routing import adapter_for

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger(__name__)

# At most one sample per account in this many seconds (the beat runs every minute).
MIN_GAP = timedelta(seconds=50)
SAMPLE_DAYS = 3
# Accounts sampled by one beat run, at most (the busiest first are not known: by id).
BEAT_CAP = 500


def day_pnl(positions: list[Position]) -> Decimal:
    """Realised + unrealised P&L over the account's positions (as risk.day_pnl)."""
    return sum((p.pnl for p in positions), Decimal(0))


def start_of_day(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return datetime.combine(local.date(), time(0), local.tzinfo)


def record(user: User, pnl: Decimal, now: datetime | None = None) -> bool:
    """Keep ``pnl`` as the account's sample for now, unless one was taken under MIN_GAP ago."""
    now = now or timezone.now()
    if PnlSample.objects.filter(user=user, at__gt=now - MIN_GAP).exists():
        return False
    PnlSample.objects.create(user=user, at=now, pnl=pnl)
    return True


def today(user: User, now: datetime | None = None) -> list[dict]:
    """Today's samples as chart points: {"time": epoch seconds, "value": rupees}."""
    rows = (PnlSample.objects.filter(user=user, at__gte=start_of_day(now)).order_by("at")
            .values_list("at", "pnl"))
    return [{"time": int(at.timestamp()), "value": round(float(pnl), 2)} for at, pnl in rows]


def sample_active_accounts(now: datetime | None = None) -> int:
    """Beat: a sample for every account with a ledger order today; old samples go."""
    now = now or timezone.now()
    PnlSample.objects.filter(at__lt=now - timedelta(days=SAMPLE_DAYS)).delete()
    ids = (Order.objects.filter(created_at__gte=start_of_day(now)).values_list("user_id", flat=True)
           .distinct().order_by("user_id")[:BEAT_CAP])
    taken = 0
    for user in get_user_model().objects.filter(pk__in=list(ids), is_active=True):
        try:
            pnl = day_pnl(adapter_for(user).positions())
        except Exception:
            log.warning("P&L sample: cannot read the positions of %s", user.username, exc_info=True)
            continue
        taken += record(user, pnl, now)
    return taken
