"""Values every layer shares: the market's time zone, the zero of money, and the one way
to make a value safe to store or send as JSON."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

# Indian markets keep India Standard Time; we store UTC and show IST at the edges.
IST = ZoneInfo("Asia/Kolkata")

ZERO = Decimal(0)


def json_safe(value: Any) -> Any:
    """``value`` with every Decimal, date, enum or other object turned into a JSON value
    (str of the object where JSON has no type for it), so it stores and round-trips."""
    return json.loads(json.dumps(value, default=str))
