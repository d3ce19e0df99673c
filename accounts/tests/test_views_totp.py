"""Two-factor authentication: enrolment, recovery codes, the login's second step, disabling."""

from __future__ import annotations

import base64
import re
import time
import types

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import otp
from accounts.services import next_session_expiry
from accounts.views import PENDING_2FA

PASSWORD = "correct-horse-battery-9"
INVALID_CODE = "Invalid verification code."


@pytest.fixture(autouse=True)
def _steady_rate_limit_clock(monkeypatch):
    """django-ratelimit counts in fixed windows; pin its clock so no test straddles a window edge."""
    import django_ratelimit.core

    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """What the user's authenticator app shows now (or a step later)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


@pytest.fixture
def recovery_codes(user, device) -> list[str]:
    return otp.replace_recovery_codes(user=user)


def password_step(client, username="trader", password=PASSWORD):
    return client.post("/login/", {"username": username, "password": password})


# --- Enrolment ------------------------------------------------------------------------

def test_the_security_page_offers_to_set_up_an_authenticator(signed_in):
    page = signed_in.get("/account/security/").content.decode()
    assert "Set up authenticator app" in page
    assert 'action="/account/security/totp/begin/"' in page


def test_starting_enrolment_shows_a_qr_code_and_the_secret_for_manual_entry(signed_in, user):
    response = signed_in.post("/account/security/totp/begin/")
    assert response.url == "/account/security/"
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    page = signed_in.get("/account/security/").content.decode()
    assert re.search(r'<svg class="qr"[^>]*viewBox=', page)
    assert "<path" in page
    assert otp.base32_secret(device) in page
    assert otp.base32_secret(device).replace(" ", "") == base64.b32encode(device.bin_key).decode()


def test_starting_over_replaces_the_unconfirmed_secret(signed_in, user):
    signed_in.post("/account/security/totp/begin/")
    first = TOTPDevice.objects.get(user=user).key
    signed_in.post("/account/security/totp/begin/")
    assert TOTPDevice.objects.filter(user=user).count() == 1
    assert TOTPDevice.objects.get(user=user).key != first


def test_a_right_code_turns_2fa_on_and_shows_ten_recovery_codes_once(signed_in, user):
    signed_in.post("/account/security/totp/begin/")
    device = TOTPDevice.objects.get(user=user)
    response = signed_in.post("/account/security/totp/confirm/", {"code": code_for(device)})
    assert response.status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    stored = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    shown = set(re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode()))
    assert len(stored) == 10 and shown == stored
    again = signed_in.get("/account/security/").content.decode()
    assert "10 recovery codes left" in again
    assert not any(code in again for code in stored)
    assert signed_in.get("/").status_code == 200  # this session counts as verified


def test_a_wrong_confirmation_code_leaves_2fa_off(signed_in, user):
    signed_in.post("/account/security/totp/begin/")
    device = TOTPDevice.objects.get(user=user)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = signed_in.post("/account/security/totp/confirm/", {"code": wrong})
    assert INVALID_CODE in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticToken.objects.filter(device__user=user).exists()


def test_confirming_without_a_started_enrolment_does_nothing(signed_in, user):
    response = signed_in.post("/account/security/totp/confirm/", {"code": "123456"})
    assert response.url == "/account/security/"
    assert not otp.has_two_factor(user)


# --- Login with a second factor ---------------------------------------------------------

def test_with_2fa_the_right_password_alone_does_not_sign_in(client, device):
    response = password_step(client)
    assert response.url == "/login/verify/"
    assert "_auth_user_id" not in client.session
    assert client.get("/").url == "/login/?next=/"
    assert "6-digit code" in client.get("/login/verify/").content.decode()


def test_the_right_code_completes_the_login_until_3_am(client, user, device):
    password_step(client)
    response = client.post("/login/verify/", {"code": code_for(device)})
    assert (response.status_code, response.url) == (302, "/")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert PENDING_2FA not in client.session
    assert client.session.get_expiry_date() == next_session_expiry()
    assert client.get("/").status_code == 200


def test_the_second_step_keeps_the_next_url_of_the_first(client, device):
    client.post("/login/?next=/account/security/", {"username": "trader", "password": PASSWORD})
    assert client.post("/login/verify/", {"code": code_for(device)}).url == "/account/security/"


def test_a_wrong_code_is_refused_with_a_clear_message(client, device):
    password_step(client)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post("/login/verify/", {"code": wrong})
    assert response.status_code == 200
    assert INVALID_CODE in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_used_code_cannot_be_replayed(client, device):
    code = code_for(device)
    password_step(client)
    client.post("/login/verify/", {"code": code})
    other = Client()
    password_step(other)
    assert INVALID_CODE in other.post("/login/verify/", {"code": code}).content.decode()
    assert "_auth_user_id" not in other.session


def test_a_recovery_code_signs_in_once_and_only_once(client, recovery_codes, user):
    code = recovery_codes[0]
    password_step(client)
    response = client.post("/login/verify/", {"code": code.upper()})
    assert response.url == "/"
    assert client.session["_auth_user_id"] == str(user.pk)
    assert "9 recovery codes left" in client.get("/").content.decode()

    client.post("/logout/")
    password_step(client)
    response = client.post("/login/verify/", {"code": code})
    assert INVALID_CODE in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert StaticToken.objects.filter(device__user=user).count() == 9


def test_the_code_step_is_throttled_per_pending_user(client, device):
    password_step(client)
    for _ in range(5):
        assert client.post("/login/verify/", {"code": "000000"}).status_code == 200
    response = client.post("/login/verify/", {"code": code_for(device)})
    assert response.status_code == 429
    assert "Too many verification attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session

    other_browser = Client()  # the limit follows the user, not the browser
    password_step(other_browser)
    assert other_browser.post("/login/verify/", {"code": code_for(device)}).status_code == 429


def test_the_code_page_without_a_pending_login_goes_back_to_login(client, device):
    assert client.get("/login/verify/").url == "/login/"
    assert client.post("/login/verify/", {"code": code_for(device)}).url == "/login/"
    assert "_auth_user_id" not in client.session


def test_a_pending_login_expires_after_five_minutes(client, device):
    password_step(client)
    session = client.session
    session[PENDING_2FA] = {**session[PENDING_2FA], "at": time.time() - 301}
    session.save()
    assert client.post("/login/verify/", {"code": code_for(device)}).url == "/login/"
    assert "_auth_user_id" not in client.session


def test_a_signed_in_but_unverified_session_is_sent_back_to_login(client, user, device):
    client.force_login(user)  # e.g. signed in before 2FA was turned on elsewhere
    for page in ("/", "/account/apikey/", "/account/security/", "/account/password/"):
        response = client.get(page)
        assert response.url == f"/login/?next={page}"
        client.force_login(user)


# --- Turning 2FA off ------------------------------------------------------------------------

def verified_client(client, device) -> Client:
    password_step(client)
    client.post("/login/verify/", {"code": code_for(device)})
    return client


def test_turning_2fa_off_needs_the_current_password(client, user, device, recovery_codes):
    verified_client(client, device)
    response = client.post("/account/security/totp/disable/", {"password": "wrong", "code": recovery_codes[0]})
    assert "Your password was entered incorrectly." in response.content.decode()
    assert otp.has_two_factor(user)
    assert StaticToken.objects.filter(device__user=user).count() == 10  # the code was not spent


def test_turning_2fa_off_needs_a_valid_code(client, user, device, recovery_codes):
    verified_client(client, device)
    response = client.post("/account/security/totp/disable/", {"password": PASSWORD, "code": "zzzzzzzz"})
    assert INVALID_CODE in response.content.decode()
    assert otp.has_two_factor(user)


def test_with_password_and_code_2fa_goes_off_and_login_needs_only_the_password(client, user, device):
    verified_client(client, device)
    response = client.post(
        "/account/security/totp/disable/", {"password": PASSWORD, "code": code_for(device, steps_ahead=1)}
    )
    assert response.url == "/account/security/"
    assert not otp.has_two_factor(user)
    assert not StaticToken.objects.filter(device__user=user).exists()
    assert client.get("/").status_code == 200
    other = Client()
    assert password_step(other).url == "/"


def test_2fa_forms_are_csrf_protected(user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/account/security/totp/begin/").status_code == 403
    assert not TOTPDevice.objects.filter(user=user).exists()
