"""The admin behind our login and 2FA, the first-admin service, throttling behind a proxy,
and login with Redis gone."""

from __future__ import annotations

import logging
import threading

import pytest
from django.test import RequestFactory, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.services import create_first_admin
from core.api.ratelimit import client_ip_behind_proxy
from openalgo.tests.test_services_config import DEAD_REDIS

PASSWORD = "correct-horse-battery-9"


def test_the_admin_login_page_redirects_to_our_throttled_login(client, db):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_a_staff_session_still_owing_its_second_factor_gets_no_admin(client, make_user):
    staff = make_user(username="boss", password=PASSWORD, is_staff=True, is_superuser=True)
    TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    client.force_login(staff)  # password accepted, TOTP not yet verified
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/login" in response.url


def test_a_verified_staff_session_opens_the_admin(admin_client):
    assert admin_client.get("/admin/").status_code == 200


def test_the_first_admin_is_a_superuser_with_a_hashed_password(db):
    admin = create_first_admin(username="root", email="Root@Example.COM", password=PASSWORD)
    assert admin is not None and admin.is_staff and admin.is_superuser
    assert admin.email == "Root@example.com"
    stored = User.objects.get(username="root")
    assert stored.password != PASSWORD and stored.check_password(PASSWORD)


def test_a_second_first_admin_is_refused(db):
    assert create_first_admin(username="one", email="a@example.com", password=PASSWORD) is not None
    assert create_first_admin(username="two", email="b@example.com", password=PASSWORD) is None
    assert list(User.objects.values_list("username", flat=True)) == ["one"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_setups_create_exactly_one_admin():
    results: list = []

    def attempt(name: str) -> None:
        from django.db import connection

        try:
            results.append(create_first_admin(username=name, email=f"{name}@example.com", password=PASSWORD))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(f"admin{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(1 for result in results if result is not None) == 1
    assert User.objects.count() == 1


def test_behind_the_proxy_the_last_forwarded_hop_is_the_client():
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="127.0.0.1")
    assert client_ip_behind_proxy(request) == "203.0.113.9"  # the first hop is forgeable


def test_without_a_forwarded_header_the_peer_address_is_used():
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.4")
    assert client_ip_behind_proxy(request) == "198.51.100.4"


@override_settings(CACHES=DEAD_REDIS, DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS=True, DJANGO_REDIS_LOGGER="openalgo.cache")
def test_with_redis_down_login_still_works_and_the_outage_is_logged(client, make_user, caplog):
    make_user(username="trader", password=PASSWORD)
    with caplog.at_level(logging.WARNING):
        response = client.post("/login/", {"username": "trader", "password": PASSWORD})
    assert (response.status_code, response.url) == (302, "/")
    assert client.get("/").status_code == 200
    assert any(record.name == "openalgo.cache" for record in caplog.records)
