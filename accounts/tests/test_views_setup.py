"""First-run setup: a fresh install opens on it, it creates exactly one admin, then closes."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.forms import SetupForm
from accounts.models import User

PASSWORD = "a-long-and-unusual-passphrase-7"
FORM = {"username": "admin", "email": "admin@example.com", "password": PASSWORD, "confirm": PASSWORD}


@pytest.mark.django_db
def test_a_fresh_install_sends_the_dashboard_to_the_setup_page(client):
    response = client.get("/")
    assert (response.status_code, response.url) == (302, "/setup/")


@pytest.mark.django_db
def test_a_fresh_install_sends_the_login_page_to_the_setup_page(client):
    response = client.get("/login/")
    assert (response.status_code, response.url) == (302, "/setup/")


@pytest.mark.django_db
def test_the_setup_page_asks_for_username_email_password_and_confirmation(client):
    response = client.get("/setup/")
    assert response.status_code == 200
    for field in ("username", "email", "password", "confirm"):
        assert f'name="{field}"' in response.content.decode()
    assert "csrfmiddlewaretoken" in response.content.decode()


@pytest.mark.django_db
def test_setup_creates_one_superuser_signs_them_in_and_opens_the_dashboard(client):
    response = client.post("/setup/", FORM)
    assert (response.status_code, response.url) == (302, "/")
    admin = User.objects.get()
    assert (admin.username, admin.email, admin.is_superuser, admin.is_staff) == (
        "admin", "admin@example.com", True, True)
    assert admin.check_password(PASSWORD)
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Hello, admin" in dashboard.content.decode()


@pytest.mark.django_db
def test_setup_refuses_passwords_that_do_not_match_and_creates_nobody(client):
    response = client.post("/setup/", {**FORM, "confirm": PASSWORD + "x"})
    assert response.status_code == 200
    assert "The two passwords do not match." in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_setup_refuses_a_weak_password(client):
    response = client.post("/setup/", {**FORM, "password": "12345678", "confirm": "12345678"})
    assert response.status_code == 200
    assert "This password is too common." in response.content.decode()
    assert not User.objects.exists()


def test_once_a_user_exists_the_setup_page_redirects_to_login(client, user):
    response = client.get("/setup/")
    assert (response.status_code, response.url) == (302, "/login/")


def test_once_a_user_exists_a_setup_post_creates_no_second_admin(client, user):
    response = client.post("/setup/", {**FORM, "username": "intruder"})
    assert (response.status_code, response.url) == (302, "/login/")
    assert list(User.objects.values_list("username", flat=True)) == ["trader"]
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_setup_rechecks_inside_its_transaction_that_no_user_exists(make_user):
    form = SetupForm(FORM)
    assert form.is_valid()  # validated while the install was still empty
    make_user("first-comer")
    assert form.save() is None
    assert list(User.objects.values_list("username", flat=True)) == ["first-comer"]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_setups_create_exactly_one_admin(monkeypatch):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite opens every transaction with BEGIN IMMEDIATE: writers never overlap")
    first_checked, release_first = threading.Event(), threading.Event()
    original_save = User.save

    def save_slowly_for_the_first(self, *args, **kwargs):
        if self.username == "first":  # runs after the "no user yet" check, inside the transaction
            first_checked.set()
            release_first.wait(10)
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(User, "save", save_slowly_for_the_first)
    results: dict[str, object] = {}

    def run_setup(username: str) -> None:
        try:
            form = SetupForm({**FORM, "username": username})
            assert form.is_valid(), form.errors
            results[username] = form.save()
        finally:
            connection.close()

    first = threading.Thread(target=run_setup, args=("first",))
    second = threading.Thread(target=run_setup, args=("second",))
    first.start()
    assert first_checked.wait(10)
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second setup must wait for the first one's lock"
    release_first.set()
    first.join(10)
    second.join(10)
    assert results["first"] is not None and results["second"] is None
    assert list(User.objects.values_list("username", flat=True)) == ["first"]
