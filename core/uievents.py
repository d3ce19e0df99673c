"""Events for a user's browser tabs (websocket.md §9): Action Center changes, mode
changes, forced logout, master-contract progress... Any process publishes one on the
process bus (core.bus); every web process hands it to that user's browser channels, and
to no one else's. Order updates travel as the order event (orders/events.py), not here.
Imports nothing of ours but core."""

from __future__ import annotations

import json
import logging

from core import bus

log = logging.getLogger(__name__)

TOPIC_PREFIX = b"ev.ui."  # like the order event's prefix, no tick topic starts with it


def topic_for(user_id: int) -> bytes:
    return TOPIC_PREFIX + str(user_id).encode()


def encode(user_id: int, event: str, data: dict) -> bytes:
    return json.dumps({"user": user_id, "event": event, "data": data}, separators=(",", ":"),
                      default=str).encode()


def decode(payload: bytes) -> tuple[int, str, dict]:
    message = json.loads(payload)
    return int(message["user"]), str(message["event"]), dict(message["data"])


def publish(user_id: int, event: str, data: dict | None = None) -> None:
    """Tell ``user_id``'s open browser tabs that ``event`` happened. Never raises into the
    caller: what happened has happened whether or not a tab could be told. Call it after
    the change commits (``transaction.on_commit``) so a tab that reloads sees it."""
    try:
        bus.publish(topic_for(user_id), encode(user_id, event, data or {}))
    except Exception:
        log.exception("Browser event %s for user %s could not be published", event, user_id)
