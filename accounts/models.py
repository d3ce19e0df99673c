"""Users, their API keys (hashes only) and their broker credentials (encrypted)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts import crypto


class User(AbstractUser):
    """A trader. Every row that belongs to someone points here and is scoped by it."""

    class OrderMode(models.TextChoices):
        AUTO = "auto", "Auto"
        SEMI_AUTO = "semi_auto", "Semi-auto (orders wait in the Action Center)"

    analyze_mode = models.BooleanField(
        default=False, help_text="Orders go to the paper-trading sandbox while data stays live"
    )
    order_mode = models.CharField(max_length=16, choices=OrderMode.choices, default=OrderMode.AUTO)

    class Meta:
        db_table = "accounts_user"


class ApiKey(models.Model):
    """An OpenAlgo API key. The key itself is never stored: only a lookup digest
    (HMAC-SHA256 with the pepper) and an Argon2id hash of key+pepper."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    key_hash = models.CharField(max_length=255, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Empty for the key the user holds (one active at a time); a scope such as "hosted:12" for
    # a key the platform issues to one of the user's own processes (a hosted strategy): it acts
    # as the user, is revoked with that process, and never replaces or shows as the user's key.
    scope = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(revoked_at__isnull=True, scope=""), name="one_active_api_key_per_user"
            )
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"API key of {self.user} ({state}, created {self.created_at:%Y-%m-%d %H:%M})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class BrokerCredential(models.Model):
    """One broker's credentials for one user. Secret fields hold Fernet ciphertext only;
    read them with ``reveal`` at the moment of use."""

    SECRET_FIELDS = ("api_key", "api_secret", "access_token", "feed_token")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="broker_credentials"
    )
    broker = models.SlugField(max_length=32)
    client_id = models.CharField(max_length=64, blank=True)
    api_key_encrypted = models.TextField(blank=True)
    api_secret_encrypted = models.TextField(blank=True)
    access_token_encrypted = models.TextField(blank=True)
    feed_token_encrypted = models.TextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "broker"], name="one_credential_per_broker")]

    def __str__(self) -> str:
        return f"{self.broker} credentials of {self.user}"

    def store(self, **secrets: str) -> None:
        """Encrypt and set the given secrets (empty string clears one). Caller saves."""
        for name, value in secrets.items():
            if name not in self.SECRET_FIELDS:
                raise ValueError(f"unknown broker secret {name!r}")
            setattr(self, f"{name}_encrypted", crypto.encrypt(value) if value else "")

    def reveal(self, name: str) -> str:
        """Decrypt one secret for immediate use; never log or store the result."""
        if name not in self.SECRET_FIELDS:
            raise ValueError(f"unknown broker secret {name!r}")
        token = getattr(self, f"{name}_encrypted")
        return crypto.decrypt(token) if token else ""

    def has_secret(self, name: str) -> bool:
        return bool(getattr(self, f"{name}_encrypted"))

    def has_live_session(self, now=None) -> bool:
        """True while an access token is stored and not past its daily expiry."""
        now = now or timezone.now()
        return self.has_secret("access_token") and (
            self.token_expires_at is None or self.token_expires_at > now
        )


class AuditEvent(models.Model):
    """Append-only, hash-chained record of security- and money-relevant actions: each row's
    hash covers its content and the previous row's hash, so an edit or a removal anywhere
    breaks the chain (``manage.py verifyaudit``). Rows are never updated or deleted."""

    at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=150, blank=True, help_text="Username, or the process that acted")
    action = models.CharField(max_length=64)
    subject = models.CharField(max_length=255, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["actor", "-at"], name="audit_actor_recent")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.subject}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")


class Heartbeat(models.Model):
    """The last time a background process proved it was alive (readiness checks read it)."""

    name = models.CharField(max_length=64, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.at:%Y-%m-%d %H:%M:%S}"


class TransactionLock(models.Model):
    """A named row that a transaction locks (SELECT ... FOR UPDATE) to run alone until it
    commits or rolls back (accounts/locking.py): on MySQL/MariaDB, the stand-in for
    PostgreSQL's transaction-level advisory locks and LOCK TABLE."""

    name = models.CharField(primary_key=True, max_length=64)

    def __str__(self) -> str:
        return self.name


class UserSession(models.Model):
    """A signed-in browser session of a user (written on login, removed on logout), so the
    Sessions page can list them and "Sign out everywhere" can end them. The session key is
    the cookie's value: it is never shown on a page or sent to a browser."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="browser_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"session of {self.user} from {self.ip or 'unknown'} since {self.created_at:%Y-%m-%d %H:%M}"


class ApiRequest(models.Model):
    """One /api/v1/ call as the monitoring pages show it: who, which endpoint, the answer's
    status and time, and the request body with every secret masked (accounts/request_log.py).
    Written in batches off the request path; pruned to REQUEST_LOG_DAYS / REQUEST_LOG_MAX_ROWS."""

    at = models.DateTimeField(db_index=True)
    # No database constraint: rows are written in batches from another thread, possibly after
    # the user is gone; the ORM still cascades a user's deletion to them.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             db_constraint=False, related_name="+")
    method = models.CharField(max_length=8)
    endpoint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField()
    broker = models.CharField(max_length=32, blank=True)
    body = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-at"], name="api_request_user_recent"),
                   models.Index(fields=["endpoint", "-at"], name="api_request_endpoint_recent")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.method} {self.endpoint} {self.status} {self.latency_ms:.1f} ms"
