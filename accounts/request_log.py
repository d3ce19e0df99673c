"""The API request log: each /api/v1/ call (who, endpoint, status, latency, the body with
its secrets masked), recorded off the request path. The middleware (openalgo/middleware.py)
hands a record to ``writer``; a background thread writes what has queued up in one
multi-row INSERT every ``FLUSH_SECONDS`` (or every ``BATCH`` records), so a call pays a
queue append, never a database write nor the masking. A bounded queue drops records rather than memory
when the database is away. ``prune`` keeps REQUEST_LOG_DAYS days and at most
REQUEST_LOG_MAX_ROWS rows (a beat task)."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from accounts.brokers import SANDBOX, active_broker_name
from accounts.models import ApiRequest, User
from core.values import storable_text

log = logging.getLogger(__name__)

MASK = "***"
BODY_LIMIT = 2000  # characters of a body kept
# A JSON field whose name says it holds a secret: its value is replaced, whatever it is.
SECRET_FIELD = re.compile(r"(api_?key|apikey|secret|token|password|passwd|pin|otp|totp|authorization|pepper)",
                          re.IGNORECASE)


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: (MASK if SECRET_FIELD.search(str(key)) else _masked(item)) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def mask_body(raw: bytes | str) -> str:
    """The body to keep: JSON with every secret field's value masked (at any depth), cut to
    BODY_LIMIT. A body that is not JSON is kept only as far as a form's ``name=value``
    pairs can be masked; anything else is summarised, never stored raw."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = storable_text(text).strip()  # a NUL would make the database refuse the whole batch
    if not text:
        return ""
    try:
        parsed = json.loads(text)
    except ValueError:
        if re.fullmatch(r"[\w.%+\-]+=[^&]*(&[\w.%+\-]+=[^&]*)*", text):
            pairs = (pair.partition("=") for pair in text.split("&"))
            return "&".join(f"{name}={MASK if SECRET_FIELD.search(name) else value}"
                            for name, _, value in pairs)[:BODY_LIMIT]
        return f"({len(text)} characters, not JSON)"
    return json.dumps(_masked(parsed), separators=(",", ":"), default=str)[:BODY_LIMIT]


def _unchanged(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class Record:
    """One call as the request thread saw it. The body is raw here (masking a body costs more
    than the rest of the record together): ``row`` masks it on the writer thread, by field
    name and then with ``mask`` (the caller's pattern masker), before anything is stored."""

    at: datetime
    user_id: int | None
    method: str
    endpoint: str
    status: int
    latency_ms: float
    broker: str  # "" : the writer looks up the user's broker (the request path must not query)
    raw_body: bytes
    mask: Callable[[str], str] = _unchanged
    analyze: bool = False  # the caller's analyze mode: its orders went to the sandbox

    def row(self) -> ApiRequest:
        body = self.mask(mask_body(self.raw_body)) if self.raw_body else ""
        return ApiRequest(at=self.at, user_id=self.user_id, method=self.method[:8], endpoint=self.endpoint[:64],
                          status=self.status, latency_ms=round(self.latency_ms, 3),
                          broker=(self.broker or _broker_of(self))[:32], body=body)


def _broker_of(record: Record) -> str:
    """The broker that served the caller: the sandbox in analyze mode, else their live session's
    (read on the writer thread, at most LIVE_BROKER_TTL after the call; cached per user)."""
    if record.user_id is None:
        return ""
    return SANDBOX if record.analyze else active_broker_name(User(pk=record.user_id))


class RequestLogWriter:
    """Records queued by request threads, written in batches by one daemon thread (started
    on the first record when REQUEST_LOG_THREAD is on; tests call ``flush`` instead)."""

    BATCH = 500
    FLUSH_SECONDS = 1.0
    MAX_QUEUED = 20_000

    def __init__(self) -> None:
        self._queue: deque[Record] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._unreachable = False
        self.dropped = 0

    def submit(self, record: Record) -> None:
        if len(self._queue) >= self.MAX_QUEUED:
            self.dropped += 1
            return
        self._queue.append(record)  # deque.append is atomic: no lock on the request path
        if self._thread is None and getattr(settings, "REQUEST_LOG_THREAD", True):
            self._start()
        if len(self._queue) >= self.BATCH:
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="request-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.FLUSH_SECONDS)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                log.exception("API request log: a batch could not be written")
            try:  # the thread outlives any one connection error: it must not die on one
                close_old_connections()
                self._unreachable = False
            except Exception:
                if not self._unreachable:  # once per outage, not every second
                    log.exception("API request log: the database connection could not be checked")
                self._unreachable = True

    def take(self) -> list[Record]:
        taken: list[Record] = []
        while self._queue and len(taken) < self.BATCH * 4:
            taken.append(self._queue.popleft())
        return taken

    def flush(self) -> int:
        """Write every queued record now, in this thread; the number written."""
        written = 0
        while batch := self.take():
            ApiRequest.objects.bulk_create([record.row() for record in batch])
            written += len(batch)
        return written

    def discard(self) -> None:
        self._queue.clear()


writer = RequestLogWriter()


def prune(*, now: datetime | None = None) -> int:
    """Drop rows older than REQUEST_LOG_DAYS, then the oldest beyond REQUEST_LOG_MAX_ROWS."""
    now = now or timezone.now()
    days = getattr(settings, "REQUEST_LOG_DAYS", 7)
    limit = getattr(settings, "REQUEST_LOG_MAX_ROWS", 200_000)
    removed, _ = ApiRequest.objects.filter(at__lt=now - timedelta(days=days)).delete()
    beyond = list(ApiRequest.objects.order_by("-pk").values_list("pk", flat=True)[limit:limit + 1])
    if beyond:  # ids grow with time: everything at or below the first id past the limit goes
        extra, _ = ApiRequest.objects.filter(pk__lte=beyond[0]).delete()
        removed += extra
    return removed
