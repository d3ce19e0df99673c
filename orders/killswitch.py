"""The kill switch's actions: when it engages, working orders are cancelled and, if the
user chose so, positions squared off; resetting it takes today's P&L as the new
baseline. The limits and the switch itself are data in orders/risk.py."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from accounts import audit
from brokers.base import BrokerError
from core.values import ZERO
from orders import changes, risk
from orders.routing import adapter_for

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger(__name__)


def engage(user: User, *, reason: str, actor: str, ip: str = "") -> dict[str, Any] | None:
    """Turn the kill switch on (once): refuse new orders, cancel working ones and, if the
    user chose so, square off positions. Returns what was done, or None if already on."""
    limits = risk.switch_on(user, reason=reason)
    if limits is None:
        return None
    outcome: dict[str, Any] = {"reason": reason}
    try:
        cancelled, failed = changes.cancel_all_orders(user=user)
        outcome.update(cancelled=len(cancelled), cancel_failed=len(failed))
        if limits.square_off_on_kill:
            closed, close_failed = changes.close_all_positions(user=user, source="killswitch")
            outcome.update(squared_off=closed, square_off_failed=close_failed)
    except BrokerError as exc:
        log.error("Kill switch for %s: the broker failed while cancelling or squaring off: %s",
                  user.username, exc.message)
        outcome["error"] = exc.message
    audit.record("kill_switch_engaged", actor=actor, subject=user.username, detail=outcome, ip=ip)
    return outcome


def reset(user: User, *, actor: str, ip: str = "") -> bool:
    """The user turns the switch off. The day's P&L now is the new baseline, so the loss
    already taken does not trip the switch again at once."""
    try:
        baseline = risk.day_pnl(adapter_for(user))
    except BrokerError as exc:
        log.warning("Kill switch reset for %s: P&L unavailable (%s); the limit counts from zero", user.username,
                    exc.message)
        baseline = ZERO
    previous = risk.switch_off(user, baseline=baseline)
    if previous is None:
        return False
    audit.record("kill_switch_reset", actor=actor, subject=user.username,
                 detail={"was": previous, "pnl_baseline": str(baseline)}, ip=ip)
    return True


def monitor_losses() -> int:
    """Beat task body: check every user with a daily loss limit; returns switches engaged."""
    engaged = 0
    for limits in risk.watched_limits():
        user = limits.user
        try:
            pnl = risk.day_pnl(adapter_for(user))
        except Exception:
            log.exception("Loss monitor: cannot read the positions of %s", user.username)
            continue
        reason = risk.loss_breach(limits, pnl)
        if reason and engage(user, reason=reason, actor="risk-monitor") is not None:
            engaged += 1
    return engaged
