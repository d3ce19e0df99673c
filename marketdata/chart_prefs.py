"""A trader's chart preferences: a small key/value store read and written by the API's
/chart (spec §10.9) and by the quote page, so a setting made in one shows in the other."""

from __future__ import annotations

import json

from django.db import transaction

from core.errors import ServiceError
from marketdata.models import ChartPreference

MAX_KEYS = 50
MAX_KEY_LENGTH = 50
MAX_VALUE_BYTES = 1024 * 1024


class PreferenceError(ServiceError):
    """A preference refused before anything is stored."""

    http_status = 400


def chart_preferences(user) -> dict:
    """Every stored preference of ``user``, key -> value."""
    return dict(ChartPreference.objects.filter(user=user).order_by("key").values_list("key", "value"))


def check_preferences(preferences: dict) -> None:
    if not preferences:
        raise PreferenceError("No preferences provided to update")
    if len(preferences) > MAX_KEYS:
        raise PreferenceError(f"Too many preferences: at most {MAX_KEYS} keys per update")
    for key, value in preferences.items():
        if not isinstance(key, str) or not key.strip():
            raise PreferenceError("Preference keys must be non-empty strings")
        if len(key) > MAX_KEY_LENGTH:
            raise PreferenceError(f"Preference key '{key[:MAX_KEY_LENGTH]}...' is longer than {MAX_KEY_LENGTH} "
                                  "characters")
        if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_VALUE_BYTES:
            raise PreferenceError(f"Preference '{key}' is larger than 1 MiB")


def save_chart_preferences(*, user, preferences: dict) -> dict:
    """Upsert ``preferences`` (all or none) and answer the whole stored set."""
    check_preferences(preferences)
    with transaction.atomic():
        for key, value in preferences.items():
            ChartPreference.objects.update_or_create(user=user, key=key, defaults={"value": value})
    return chart_preferences(user)
