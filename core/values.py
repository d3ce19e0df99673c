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
    (str of the object where JSON has no type for it), so it stores and round-trips. Text a
    database cannot store (NUL characters, which PostgreSQL refuses; lone surrogates, which
    are not UTF-8) is cleaned in keys and values alike: NUL dropped, a lone surrogate U+FFFD."""
    text = json.dumps(value, default=str)
    if "\\u0000" not in text and "\\ud" not in text:  # the common case: nothing to clean
        return json.loads(text)
    return _storable(json.loads(text))


def storable_text(text: str) -> str:
    """``text`` as a database stores it: without NUL, with each lone surrogate as U+FFFD
    (a surrogate pair, the JSON escape of an emoji, becomes its one character)."""
    cleaned = text.replace("\x00", "")
    try:
        cleaned.encode("utf-8")
    except UnicodeEncodeError:
        cleaned = cleaned.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return cleaned


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(k): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value
