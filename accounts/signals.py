"""Account signal hooks: the audit of sign-ins, sign-outs and broker credentials, the
list of a user's browser sessions (accounts/sessions.py), the
API-key cache dropping a user whose row changed, and the live-broker cache dropping a
user whose credentials changed (a login or logout routes the very next request)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save

from accounts import audit, sessions
from accounts.apikeys import verified_keys
from accounts.brokers import forget_live_broker
from accounts.models import BrokerCredential, User


def _logged_in(sender, request, user, **kwargs) -> None:
    audit.record("login", actor=user.get_username(), ip=audit.client_ip(request))
    if request is not None:
        sessions.remember(request, user)


def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit.record("logout", actor=user.get_username(), ip=audit.client_ip(request))
    session = getattr(request, "session", None)
    sessions.forget(getattr(session, "session_key", None), user.pk if user is not None else None)


def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Only the username: the credentials also carry the password.
    audit.record("login_failed", actor=str(credentials.get("username", ""))[:150], ip=audit.client_ip(request))


def _credential_saved(sender, instance, created, **kwargs) -> None:
    audit.record("broker_credential_saved", actor=instance.user.get_username(), subject=instance.broker,
                 detail={"created": created, "live_session": instance.has_live_session()})


def _credential_deleted(sender, instance, **kwargs) -> None:
    audit.record("broker_credential_deleted", actor=instance.user.get_username(), subject=instance.broker)


def _credential_changed(sender, instance, **kwargs) -> None:
    forget_live_broker(instance.user_id)


def _user_saved(sender, instance, **kwargs) -> None:
    """A mode or activity change must reach the API at once: drop the cached user."""
    verified_keys.evict_user(instance.pk)


def connect() -> None:
    post_save.connect(_user_saved, sender=User, dispatch_uid="apikeys.user_saved")
    user_logged_in.connect(_logged_in, dispatch_uid="audit.login")
    user_logged_out.connect(_logged_out, dispatch_uid="audit.logout")
    user_login_failed.connect(_login_failed, dispatch_uid="audit.login_failed")
    post_save.connect(_credential_saved, sender=BrokerCredential, dispatch_uid="audit.credential_saved")
    post_delete.connect(_credential_deleted, sender=BrokerCredential, dispatch_uid="audit.credential_deleted")
    post_save.connect(_credential_changed, sender=BrokerCredential, dispatch_uid="brokers.credential_saved")
    post_delete.connect(_credential_changed, sender=BrokerCredential, dispatch_uid="brokers.credential_deleted")
