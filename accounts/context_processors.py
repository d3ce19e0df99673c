"""What every page's frame shows: the trading-mode banner."""

from __future__ import annotations

from accounts.selectors import trading_mode


def frame(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"trading_mode": trading_mode(user)}
