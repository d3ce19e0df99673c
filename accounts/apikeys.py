"""API-key hashing and the hot-path check: digest lookup, one Argon2 verify, then a
short-lived in-process cache whose entries re-read their row at most every
API_KEY_RECHECK_SECONDS, so a revocation made by any process is honoured everywhere
within that bound, with or without Redis."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from django.conf import settings

from accounts.models import ApiKey

_hasher = PasswordHasher()  # Argon2id, library defaults
MAX_KEY_LENGTH = 256
_CACHE_CAPACITY = 10_000


def generate_key() -> str:
    """64 lowercase hex characters from the OS CSPRNG, as the reference issues them."""
    return secrets.token_hex(32)


def lookup_digest(key: str) -> str:
    return hmac.new(settings.API_KEY_PEPPER.encode(), b"apikey-lookup:" + key.encode(), hashlib.sha256).hexdigest()


def hash_key(key: str) -> str:
    return _hasher.hash(key + settings.API_KEY_PEPPER)


def verify_key(key: str, key_hash: str) -> bool:
    try:
        return _hasher.verify(key_hash, key + settings.API_KEY_PEPPER)
    except (VerificationError, InvalidHashError):
        return False


@dataclass
class _Verified:
    key_id: int
    user: object
    verified_until: float
    checked_at: float


class VerifiedKeyCache:
    """Digest -> verified key and its user, bounded, thread-safe. The user row is re-read
    with the key at most every API_KEY_RECHECK_SECONDS, and at once when this process
    saves the user (accounts/signals.py)."""

    def __init__(self, capacity: int = _CACHE_CAPACITY) -> None:
        self._entries: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()
        self._capacity = capacity

    def get(self, digest: str) -> _Verified | None:
        with self._lock:
            return self._entries.get(digest)

    def put(self, digest: str, entry: _Verified) -> None:
        with self._lock:
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)

    def evict(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def evict_user(self, user_id: int) -> None:
        with self._lock:
            for digest in [d for d, e in self._entries.items() if e.user.pk == user_id]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


verified_keys = VerifiedKeyCache()


def user_for_key(key: object):
    """Return the active user owning ``key``, or None. The only API-key check there is."""
    found = authenticate_key(key)
    return found[0] if found is not None else None


def key_is_active(key_id: int) -> bool:
    """True while the key row ``key_id`` is not revoked (a feed socket's check after it
    started listening for revocations, so one made in between is not missed)."""
    return ApiKey.objects.filter(pk=key_id, revoked_at__isnull=True, user__is_active=True).exists()


def authenticate_key(key: object) -> tuple[object, int] | None:
    """The active user owning ``key`` and the key row's id, or None (``user_for_key``, for
    a caller that must also know which key it was: a feed socket closes when it is revoked)."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
        return None
    digest = lookup_digest(key)
    now = time.monotonic()
    entry = verified_keys.get(digest)
    if entry is not None and now < entry.verified_until:
        if now - entry.checked_at < settings.API_KEY_RECHECK_SECONDS:
            return entry.user, entry.key_id
        # The recheck reads the user too: a mode switched elsewhere (semi-auto, analyze) holds
        # within the same bound as a revocation.
        row = (
            ApiKey.objects.select_related("user")
            .filter(pk=entry.key_id, revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if row is None:
            verified_keys.evict(digest)
            return None
        entry.user, entry.checked_at = row.user, now
        return entry.user, entry.key_id

    row = (
        ApiKey.objects.select_related("user")
        .filter(digest=digest, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if row is None or not verify_key(key, row.key_hash):
        verified_keys.evict(digest)
        return None
    now = time.monotonic()
    verified_keys.put(
        digest,
        _Verified(row.pk, row.user, now + settings.API_KEY_CACHE_TTL_SECONDS, now),
    )
    return row.user, row.pk
