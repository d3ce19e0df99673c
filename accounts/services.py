"""Account writes: API keys, broker credentials, daily session and token expiry."""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts import apikeys, audit, live_events
from accounts.brokers import forget_live_broker
from accounts.locking import hold_until_commit
from accounts.models import ApiKey, BrokerCredential, User, UserSession
from core import uievents
from core.dblocks import locked_get_or_create

log = logging.getLogger(__name__)
APIKEY_REVOKED = "apikey_revoked"  # browser event: {"key_id"}; feed sockets of that key close


def create_first_admin(*, username: str, email: str, password: str) -> User | None:
    """Create the first administrator of a fresh install, or return None if any user
    exists by then (the first-run setup page; OpenAlgo's single-admin bootstrap).

    The password is hashed before the transaction so the lock is held briefly.
    "No user yet" is re-checked under a lock that serialises concurrent setups:
    SQLite's BEGIN IMMEDIATE (this project's transaction mode) takes the write lock
    at the start of the transaction; on PostgreSQL we lock the user table against
    inserts, on MySQL a lock row that every setup takes (accounts/locking.py), so a
    second setup waits, then sees the first admin and gives up."""
    admin = User(username=username, email=User.objects.normalize_email(email),
                 is_staff=True, is_superuser=True)
    admin.set_password(password)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                table = connection.ops.quote_name(User._meta.db_table)
                cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        elif connection.vendor == "mysql":
            hold_until_commit("first-admin")
        if User.objects.exists():
            return None
        admin.save()
    log.info("First administrator %s created", admin.username)
    return admin


def create_api_key(*, user: User) -> str:
    """Issue a fresh key for ``user``, revoking the active one; return it (shown once)."""
    key = apikeys.generate_key()
    with transaction.atomic():
        # Lock the user row so two concurrent regenerations serialise.
        User.objects.select_for_update().filter(pk=user.pk).first()
        active = ApiKey.objects.filter(user=user, scope="", revoked_at__isnull=True)
        replaced = list(active.values_list("pk", flat=True))
        active.update(revoked_at=timezone.now())
        ApiKey.objects.create(user=user, digest=apikeys.lookup_digest(key), key_hash=apikeys.hash_key(key))
        _announce_revoked(user, replaced)
    apikeys.verified_keys.evict_user(user.pk)
    audit.record("api_key_issued", actor=user.username)
    log.info("API key issued for user %s", user.username)
    return key


def revoke_api_key(*, user: User) -> int:
    """Revoke the user's active key; other processes drop it within the recheck bound, and
    every feed socket authenticated with it closes (``apikey_revoked``)."""
    with transaction.atomic():
        active = ApiKey.objects.select_for_update().filter(user=user, scope="", revoked_at__isnull=True)
        ids = list(active.values_list("pk", flat=True))
        revoked = ApiKey.objects.filter(pk__in=ids).update(revoked_at=timezone.now())
        _announce_revoked(user, ids)
    apikeys.verified_keys.evict_user(user.pk)
    if revoked:
        audit.record("api_key_revoked", actor=user.username)
        log.info("API key revoked for user %s", user.username)
    return revoked


def _announce_revoked(user: User, key_ids: list[int]) -> None:
    """Once the revocation commits, tell every process: the feed sockets authenticated with
    one of these keys close (marketdata/stream/consumer.py), whichever web process holds them."""
    for key_id in key_ids:
        transaction.on_commit(lambda key_id=key_id: uievents.publish(user.pk, APIKEY_REVOKED, {"key_id": key_id}))


def active_api_key(*, user: User) -> ApiKey | None:
    return ApiKey.objects.filter(user=user, scope="", revoked_at__isnull=True).first()


def issue_scoped_api_key(*, user: User, scope: str) -> str:
    """A fresh key acting as ``user`` for one of the platform's own processes (``scope``, e.g.
    "hosted:12"), revoking the scope's previous key; the user's own key is untouched. Returned
    once, never stored: the caller hands it to the process and forgets it."""
    if not scope:
        raise ValueError("a scoped key needs a scope")
    key = apikeys.generate_key()
    with transaction.atomic():
        active = ApiKey.objects.filter(user=user, scope=scope, revoked_at__isnull=True)
        replaced = list(active.values_list("pk", flat=True))
        active.update(revoked_at=timezone.now())
        ApiKey.objects.create(user=user, scope=scope, digest=apikeys.lookup_digest(key),
                              key_hash=apikeys.hash_key(key))
        _announce_revoked(user, replaced)
    apikeys.verified_keys.evict_user(user.pk)
    return key


def revoke_scoped_api_key(*, user_id: int, scope: str) -> int:
    """Revoke the key of ``scope`` (other processes drop it within the recheck bound)."""
    if not scope:
        raise ValueError("a scoped key needs a scope")
    with transaction.atomic():
        active = ApiKey.objects.select_for_update().filter(user_id=user_id, scope=scope, revoked_at__isnull=True)
        ids = list(active.values_list("pk", flat=True))
        revoked = ApiKey.objects.filter(pk__in=ids).update(revoked_at=timezone.now())
        for key_id in ids:  # the strategy's feed sockets close too
            transaction.on_commit(lambda key_id=key_id: uievents.publish(user_id, APIKEY_REVOKED, {"key_id": key_id}))
    apikeys.verified_keys.evict_user(user_id)
    return revoked


def set_order_mode(*, user: User, semi_auto: bool, ip: str = "") -> bool:
    """Semi-auto (orders wait in the Action Center for approval) on or off; audited. Every
    order path reads the mode from the database when it starts (orders/routing.py), so the
    next request of any process sees it. True when it changed."""
    mode = User.OrderMode.SEMI_AUTO if semi_auto else User.OrderMode.AUTO
    changed = User.objects.filter(pk=user.pk).exclude(order_mode=mode).update(order_mode=mode)
    user.order_mode = mode
    if changed:
        audit.record("order_mode_changed", actor=user.username, subject=user.username,
                     detail={"order_mode": str(mode)}, ip=ip)
        log.info("Order mode %s for %s", mode, user.username)
    return bool(changed)


# --- Daily expiry ------------------------------------------------------------------------

def _expiry_clock() -> time:
    hour, minute = (int(part) for part in settings.SESSION_EXPIRY_TIME.split(":"))
    return time(hour, minute)


def next_session_expiry(now: datetime | None = None) -> datetime:
    """The next SESSION_EXPIRY_TIME boundary (IST) strictly after ``now``."""
    ist = ZoneInfo(settings.MARKET_TIMEZONE)
    local_now = (now or timezone.now()).astimezone(ist)
    boundary = datetime.combine(local_now.date(), _expiry_clock(), tzinfo=ist)
    if boundary <= local_now:
        boundary += timedelta(days=1)
    return boundary


def last_session_expiry(now: datetime | None = None) -> datetime:
    return next_session_expiry(now) - timedelta(days=1)


def store_broker_session(
    *, user: User, broker: str, access_token: str, feed_token: str = "", client_id: str = "", now=None
) -> BrokerCredential:
    """Save a broker login's tokens, encrypted, valid until the next daily expiry."""
    credential, _ = BrokerCredential.objects.get_or_create(user=user, broker=broker)
    credential.store(access_token=access_token, feed_token=feed_token)
    if client_id:
        credential.client_id = client_id
    credential.token_expires_at = next_session_expiry(now)
    credential.save()
    live_events.broker_session_changed(user_id=user.pk, broker=broker, expires_at=credential.token_expires_at)
    return credential


def store_broker_app_credentials(*, user: User, broker: str, api_key: str, api_secret: str,
                                 client_id: str | None = None, keep_blank: bool = False) -> BrokerCredential:
    """Save a broker app's key and secret, encrypted (and the trader's client id). With
    ``keep_blank`` an empty key or secret keeps the stored one (a form never shows secrets)."""
    with transaction.atomic():
        credential, _ = locked_get_or_create(BrokerCredential.objects, user=user, broker=broker)
        secrets = {"api_key": api_key, "api_secret": api_secret}
        credential.store(**{name: value for name, value in secrets.items() if value or not keep_blank})
        if client_id is not None:
            credential.client_id = client_id
        credential.save()
    audit.record("broker_credentials", actor=user.username, subject=broker,
                 detail={"changed": sorted(name for name, value in secrets.items() if value)})
    return credential


# The beat job may fire a little early or late; anything due within this margin is due now.
EXPIRY_TOLERANCE = timedelta(minutes=30)


def expire_sessions(*, now: datetime | None = None) -> dict[str, int]:
    """End the UI sessions and broker tokens due at the daily boundary.

    Logins set their expiry to the next boundary, so Django already refuses a stale
    session and ``has_live_session`` a stale token; this job removes them for good.
    """
    due = (now or timezone.now()) + EXPIRY_TOLERANCE
    with transaction.atomic():
        session_count, _ = Session.objects.filter(expire_date__lte=due).delete()
        UserSession.objects.exclude(session_key__in=Session.objects.values("session_key")).delete()
        with_token = BrokerCredential.objects.exclude(access_token_encrypted="")
        expiring = with_token.filter(Q(token_expires_at__lte=due) | Q(token_expires_at__isnull=True))
        ended = list(expiring.select_for_update().values_list("user_id", "broker"))
        token_count = expiring.update(access_token_encrypted="", feed_token_encrypted="", token_expires_at=None)
        for user_id, broker in ended:  # each tab offers to reconnect (sent once this commits)
            live_events.broker_session_changed(user_id=user_id, broker=broker, expires_at=None)
    forget_live_broker()
    log.info("Daily expiry: %d sessions ended, %d broker tokens cleared", session_count, token_count)
    return {"sessions": session_count, "broker_tokens": token_count}


def set_analyze_mode(*, user: User, on: bool, actor: str = "", ip: str = "") -> User:
    """Analyze (paper) mode on or off for this user (spec §10.3). The paper engine runs its
    pending fills and settlements before it answers any call, so nothing is due here. Every
    open tab of the user hears of it (``app_mode_changed``) once the change commits, so
    each banner says where the next order goes."""
    on = bool(on)
    User.objects.filter(pk=user.pk).update(analyze_mode=on)
    user.analyze_mode = on
    audit.record("analyze_mode", actor=actor or user.username, subject=user.username, detail={"on": on}, ip=ip)
    log.info("Analyze mode %s for %s", "on" if on else "off", user.username)
    user_id = user.pk
    transaction.on_commit(lambda: uievents.publish(user_id, "app_mode_changed", {"analyze_mode": on}))
    return user
