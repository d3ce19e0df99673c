"""A user's signed-in browser sessions: remembered at login (accounts/signals.py), listed on
the Sessions page, ended there ("Sign out everywhere") or by a password change or reset.

Ending a session deletes its row in Django's session table, so its next request is a
signed-out one, and tells the browser channels of that session to close
(``force_logout`` with its ``session_keys``, websocket.md §9), whichever web process
holds them. Session keys are cookie values: they stay on the server and on the process
bus, never on a page or in a frame sent to a browser."""

from __future__ import annotations

import logging
import threading
import time

from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import User, UserSession
from core import uievents

log = logging.getLogger(__name__)

FORCE_LOGOUT = "force_logout"
SESSIONS_UPDATE = "active_sessions_update"
TOUCH_EVERY_SECONDS = 60  # "last seen" is written at most this often per session
_USER_AGENT_LENGTH = UserSession._meta.get_field("user_agent").max_length or 300


def remember(request, user: User) -> None:
    """Record the session a login just opened (the user_logged_in signal)."""
    session = getattr(request, "session", None)
    if session is None:
        return
    if not session.session_key:
        session.save()
    now = timezone.now()
    UserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={"user": user, "created_at": now, "last_seen": now, "ip": audit.client_ip(request)[:64],
                  "user_agent": request.META.get("HTTP_USER_AGENT", "")[:_USER_AGENT_LENGTH]},
    )
    _announce_sessions(user.pk)


def forget(session_key: str | None, user_id: int | None = None) -> None:
    """The session signed out by itself (the user_logged_out signal)."""
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()
        if user_id is not None:
            _announce_sessions(user_id)


def renamed(old_key: str | None, new_key: str | None) -> None:
    """The session's key was cycled (a password change keeps the session under a new key)."""
    if old_key and new_key and old_key != new_key:
        UserSession.objects.filter(session_key=old_key).update(session_key=new_key)


_touched: dict[str, float] = {}
_touched_lock = threading.Lock()


def touch(session_key: str) -> None:
    """Note that the session was used now; writes at most every TOUCH_EVERY_SECONDS."""
    now = time.monotonic()
    with _touched_lock:
        if now - _touched.get(session_key, -TOUCH_EVERY_SECONDS) < TOUCH_EVERY_SECONDS:
            return
        _touched[session_key] = now
        if len(_touched) > 10_000:
            _touched.clear()
    UserSession.objects.filter(session_key=session_key).update(last_seen=timezone.now())


def active(user: User) -> list[UserSession]:
    """The user's sessions that are still signed in, most recently used first (rows whose
    Django session is gone or expired are dropped on the way)."""
    rows = list(UserSession.objects.filter(user=user))
    live = set(Session.objects.filter(session_key__in=[row.session_key for row in rows],
                                      expire_date__gt=timezone.now()).values_list("session_key", flat=True))
    stale = [row.pk for row in rows if row.session_key not in live]
    if stale:
        UserSession.objects.filter(pk__in=stale).delete()
    return [row for row in rows if row.session_key in live]


def _sessions_of(user: User) -> set[str]:
    """Every unexpired Django session signed in as ``user``: the remembered ones, and any
    opened before sessions were remembered (decoded one by one: a rare, deliberate action)."""
    keys = set(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    user_id = str(user.pk)
    for session in Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key__in=keys).iterator():
        # get_decoded() answers {} for a session that does not decode: it signs nobody in.
        if str(session.get_decoded().get("_auth_user_id")) == user_id:
            keys.add(session.session_key)
    return keys


def end_sessions(user: User, *, keep: str | None = None, message: str, reason: str, ip: str = "") -> int:
    """End every session of ``user`` but ``keep`` (None: all of them); return how many.
    Their next request is signed out and their open browser channels close."""
    with transaction.atomic():
        keys = sorted(_sessions_of(user) - {keep})
        Session.objects.filter(session_key__in=keys).delete()
        UserSession.objects.filter(user=user).exclude(session_key=keep or "").delete()
        UserSession.objects.filter(session_key__in=keys).delete()
        if keys:
            transaction.on_commit(lambda: uievents.publish(user.pk, FORCE_LOGOUT,
                                                           {"message": message, "session_keys": keys}))
        _announce_sessions(user.pk)
    audit.record("sessions_ended", actor=user.get_username(), ip=ip, detail={"count": len(keys), "reason": reason})
    log.info("%d sessions of %s ended (%s)", len(keys), user.get_username(), reason)
    return len(keys)


def end_one(user: User, row_id: int, *, current: str | None, ip: str = "") -> bool:
    """End the user's session ``row_id`` (not this one: that is what Log out is for)."""
    with transaction.atomic():
        row = UserSession.objects.filter(user=user, pk=row_id).exclude(session_key=current or "").first()
        if row is None:
            return False
        key = row.session_key
        Session.objects.filter(session_key=key).delete()
        row.delete()
        transaction.on_commit(lambda: uievents.publish(
            user.pk, FORCE_LOGOUT, {"message": "This session was signed out from another one.",
                                    "session_keys": [key]}))
        _announce_sessions(user.pk)
    audit.record("sessions_ended", actor=user.get_username(), ip=ip, detail={"count": 1, "reason": "signed out one"})
    return True


def describe(row: UserSession) -> dict:
    return {"id": row.pk, "created_at": row.created_at.isoformat(), "last_seen": row.last_seen.isoformat(),
            "ip": row.ip, "user_agent": row.user_agent}


def _announce_sessions(user_id: int) -> None:
    def publish() -> None:
        try:
            rows = active(User(pk=user_id))
        except Exception:
            log.exception("Sessions of user %s could not be listed", user_id)
            return
        uievents.publish(user_id, SESSIONS_UPDATE, {"count": len(rows), "sessions": [describe(r) for r in rows]})

    transaction.on_commit(publish)

