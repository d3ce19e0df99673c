"""Which broker serves a user. Adapters register here by name (the contract lands with
the orders issue); the sandbox is always logged in."""

from __future__ import annotations

from django.utils import timezone

SANDBOX = "sandbox"


def active_broker_name(user) -> str:
    """The broker whose session the user is logged into now, else the sandbox."""
    from accounts.models import BrokerCredential

    live = (
        BrokerCredential.objects.filter(user=user)
        .exclude(access_token_encrypted="")
        .filter(token_expires_at__gt=timezone.now())
        .order_by("-updated_at")
        .values_list("broker", flat=True)
        .first()
    )
    return live or SANDBOX
