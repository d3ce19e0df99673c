"""Password change: the new password works, this session stays, the others end."""

from __future__ import annotations

from django.test import Client

OLD = "correct-horse-battery-9"
NEW = "another-fine-passphrase-42"


def change(client, old=OLD, new=NEW, confirm=None):
    return client.post(
        "/account/password/", {"old_password": old, "new_password1": new, "new_password2": confirm or new}
    )


def test_the_page_needs_a_signed_in_user(client, user):
    assert client.get("/account/password/").url == "/login/?next=/account/password/"


def test_a_change_keeps_this_session_and_says_so(client, user):
    client.force_login(user)
    response = change(client)
    assert response.url == "/account/password/"
    page = client.get("/account/password/")
    assert page.status_code == 200
    assert "Your password was changed." in page.content.decode()
    user.refresh_from_db()
    assert user.check_password(NEW) and not user.check_password(OLD)


def test_after_a_change_only_the_new_password_signs_in(client, user):
    client.force_login(user)
    change(client)
    fresh = Client()
    assert fresh.post("/login/", {"username": "trader", "password": OLD}).status_code == 200
    assert fresh.post("/login/", {"username": "trader", "password": NEW}).url == "/"


def test_other_sessions_are_signed_out_by_a_change(client, user):
    elsewhere = Client()
    elsewhere.force_login(user)
    client.force_login(user)
    change(client)
    assert elsewhere.get("/").url == "/login/?next=/"


def test_a_wrong_current_password_changes_nothing(client, user):
    client.force_login(user)
    response = change(client, old="not-my-password")
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_a_mismatched_confirmation_changes_nothing(client, user):
    client.force_login(user)
    response = change(client, confirm=NEW + "x")
    assert "The two password fields" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_the_password_form_is_csrf_protected(user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert change(strict).status_code == 403
    user.refresh_from_db()
    assert user.check_password(OLD)
