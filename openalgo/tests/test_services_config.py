"""The embedded defaults and the real services: whichever this run configures, it works
end to end, and a Redis outage degrades the cache instead of breaking the API."""

from __future__ import annotations

import logging
import os
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import override_settings

USING_REDIS = bool(os.environ.get("REDIS_URL"))
DATABASE_URL = os.environ.get("DATABASE_URL", "")


def test_the_database_is_the_one_this_run_configured(db):
    expected = ("postgresql" if DATABASE_URL.startswith(("postgres", "postgresql"))
                else "mysql" if DATABASE_URL.startswith("mysql") else "sqlite")
    assert connection.vendor == expected


def test_the_cache_round_trips_on_the_configured_backend():
    expected = "django_redis.cache.RedisCache" if USING_REDIS else "django.core.cache.backends.locmem.LocMemCache"
    assert settings.CACHES["default"]["BACKEND"] == expected
    key = f"probe-{uuid.uuid4()}"
    cache.set(key, {"ltp": 801.5}, 5)
    assert cache.get(key) == {"ltp": 801.5}


def test_the_channel_layer_delivers_a_message_on_the_configured_backend():
    layer = get_channel_layer()
    expected = "RedisChannelLayer" if USING_REDIS else "InMemoryChannelLayer"
    assert type(layer).__name__ == expected
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "order.update", "orderid": "25112400000001"})
    assert async_to_sync(layer.receive)(channel) == {"type": "order.update", "orderid": "25112400000001"}


def test_celery_uses_redis_or_the_local_filesystem_transport():
    from openalgo.celery import app

    if USING_REDIS:
        assert app.conf.broker_url.startswith("redis://")
    else:
        assert app.conf.broker_url == "filesystem://"
        assert os.path.isdir(app.conf.broker_transport_options["data_folder_in"])


_DEAD = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2, "IGNORE_EXCEPTIONS": True},
}
DEAD_REDIS = {"default": _DEAD, "counters": _DEAD}  # with Redis, the rate-limit counters are Redis too


@override_settings(CACHES=DEAD_REDIS, DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS=True, DJANGO_REDIS_LOGGER="openalgo.cache")
def test_with_redis_down_the_api_still_answers_and_the_outage_is_logged(post_json, api_key, caplog):
    with caplog.at_level(logging.WARNING):
        response = post_json("/api/v1/ping", {"apikey": api_key})
    assert response.status_code == 200
    assert response.json()["data"]["message"] == "pong"
    assert any(record.name == "openalgo.cache" for record in caplog.records)
