"""The Security section: login activity (own events only), active sessions with "Sign out
everywhere" (the other sessions really end, and their browser channels are told), a
password change ending the other sessions, and the password reset by authenticator code
(or by e-mail when SMTP is configured)."""

from __future__ import annotations

import re
import time
import types

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit, otp
from accounts.forms import INVALID_RESET
from accounts.models import UserSession

PASSWORD = "correct-horse-battery-9"
NEW = "another-fine-passphrase-42"


@pytest.fixture(autouse=True)
def _steady_rate_limit_clock(monkeypatch):
    import django_ratelimit.core

    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))


@pytest.fixture
def published(monkeypatch):
    """Every browser event published, as (user id, event, data)."""
    sent: list[tuple[int, str, dict]] = []
    monkeypatch.setattr("core.uievents.publish", lambda user_id, event, data=None: sent.append((user_id, event, data)))
    return sent


def signed_in_client(user, agent: str = "TestBrowser/1.0", ip: str = "127.0.0.1") -> Client:
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    assert client.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


# --- Login activity -----------------------------------------------------------------------------

def test_activity_shows_own_sign_ins_and_failures_and_nobody_elses(client, make_user):
    trader = make_user("trader", PASSWORD)
    make_user("other", PASSWORD)
    Client(REMOTE_ADDR="10.1.2.3").post("/login/", {"username": "trader", "password": "wrong-one"})
    Client(REMOTE_ADDR="10.9.9.9").post("/login/", {"username": "other", "password": PASSWORD})
    audit.record("api_key_issued", actor="other", ip="10.9.9.9")
    audit.record("order_placed", actor="trader", subject="SBIN")  # not a security event: not listed
    client.force_login(trader)
    page = client.get("/account/activity/")
    assert page.status_code == 200
    html = page.content.decode()
    rows = re.findall(r'<tr data-action="([a-z_0-9]+)">(.*?)</tr>', html, re.S)
    actions = [action for action, _ in rows]
    assert actions == ["login", "login_failed"]  # newest first: this session's sign-in, then the failure
    failed = rows[1][1]
    assert "10.1.2.3" in failed and "failed" in failed
    assert "10.9.9.9" not in html and "order_placed" not in html


def test_activity_needs_a_signed_in_user(client, user):
    assert client.get("/account/activity/").url == "/login/?next=/account/activity/"


# --- Active sessions -----------------------------------------------------------------------------

def test_sessions_lists_this_users_sessions_only(make_user):
    trader, other = make_user("trader", PASSWORD), make_user("other", PASSWORD)
    mine = signed_in_client(trader, agent="Firefox/140", ip="10.0.0.5")
    signed_in_client(trader, agent="Chromium/139", ip="10.0.0.6")
    signed_in_client(other, agent="Safari/18", ip="10.0.0.7")
    page = mine.get("/account/sessions/").content.decode()
    assert "Firefox/140" in page and "Chromium/139" in page and "Safari/18" not in page
    assert "10.0.0.6" in page and "10.0.0.7" not in page
    assert page.count('data-testid="this-session"') == 1
    for key in UserSession.objects.values_list("session_key", flat=True):
        assert key not in page  # a session key is a cookie: never on a page


def test_sign_out_everywhere_ends_the_other_sessions_and_tells_their_channels(
        make_user, published, django_capture_on_commit_callbacks):
    trader, other = make_user("trader", PASSWORD), make_user("other", PASSWORD)
    here, phone, laptop = (signed_in_client(trader) for _ in range(3))
    bystander = signed_in_client(other)
    ended_keys = sorted([phone.cookies["sessionid"].value, laptop.cookies["sessionid"].value])
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = here.post("/account/sessions/end-others/")
    assert response.url == "/account/sessions/"
    assert "Signed out everywhere else: 2 other sessions ended" in here.get(response.url).content.decode()
    assert phone.get("/").url == "/login/?next=/"
    assert laptop.get("/account/apikey/").url == "/login/?next=/account/apikey/"
    assert here.get("/").status_code == 200
    assert bystander.get("/").status_code == 200
    assert not Session.objects.filter(session_key__in=ended_keys).exists()
    logout = [data for user_id, event, data in published if event == "force_logout"]
    assert [user_id for user_id, event, _ in published if event == "force_logout"] == [trader.pk]
    assert sorted(logout[0]["session_keys"]) == ended_keys
    assert here.cookies["sessionid"].value not in logout[0]["session_keys"]
    updates = [data for user_id, event, data in published if event == "active_sessions_update"]
    assert updates and updates[-1]["count"] == 1


def test_sign_out_everywhere_also_ends_sessions_opened_before_they_were_recorded(make_user):
    trader = make_user("trader", PASSWORD)
    here, old = signed_in_client(trader), signed_in_client(trader)
    UserSession.objects.filter(session_key=old.cookies["sessionid"].value).delete()
    here.post("/account/sessions/end-others/")
    assert old.get("/").url == "/login/?next=/"


def test_one_other_session_can_be_signed_out_but_not_anothers(make_user):
    trader, other = make_user("trader", PASSWORD), make_user("other", PASSWORD)
    here, phone = signed_in_client(trader), signed_in_client(trader)
    foreign = signed_in_client(other)
    phone_row = UserSession.objects.get(session_key=phone.cookies["sessionid"].value)
    foreign_row = UserSession.objects.get(session_key=foreign.cookies["sessionid"].value)
    assert here.post(f"/account/sessions/{foreign_row.pk}/end/").status_code == 404
    assert foreign.get("/").status_code == 200
    assert here.post(f"/account/sessions/{phone_row.pk}/end/").url == "/account/sessions/"
    assert phone.get("/").url == "/login/?next=/"
    assert here.get("/").status_code == 200


def test_sign_out_everywhere_is_post_only_and_csrf_protected(make_user):
    trader = make_user("trader", PASSWORD)
    other = signed_in_client(trader)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(trader)
    assert strict.get("/account/sessions/end-others/").status_code == 405
    assert strict.post("/account/sessions/end-others/").status_code == 403
    assert other.get("/").status_code == 200


def test_logout_forgets_the_session(make_user):
    trader = make_user("trader", PASSWORD)
    client = signed_in_client(trader)
    assert UserSession.objects.filter(user=trader).count() == 1
    client.post("/logout/")
    assert UserSession.objects.filter(user=trader).count() == 0


def test_a_password_change_ends_the_other_sessions_and_closes_their_channels(
        make_user, published, django_capture_on_commit_callbacks):
    trader = make_user("trader", PASSWORD)
    here, elsewhere = signed_in_client(trader), signed_in_client(trader)
    elsewhere_key = elsewhere.cookies["sessionid"].value
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = here.post("/account/password/",
                             {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert response.url == "/account/password/"
    assert elsewhere.get("/").url == "/login/?next=/"
    assert here.get("/").status_code == 200
    assert not Session.objects.filter(session_key=elsewhere_key).exists()
    logout = [data for _, event, data in published if event == "force_logout"]
    assert len(logout) == 1 and logout[0]["session_keys"] == [elsewhere_key]
    # This session is still listed, under the key it was given by the change.
    page = here.get("/account/sessions/").content.decode()
    assert page.count('data-testid="this-session"') == 1
    assert UserSession.objects.get(user=trader).session_key == here.cookies["sessionid"].value


# --- Password reset by authenticator code --------------------------------------------------------

@pytest.fixture
def device(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def reset(client, username="trader", code="000000", new=NEW, confirm=None):
    return client.post("/password/reset/", {"username": username, "code": code, "new_password1": new,
                                            "new_password2": confirm or new})


def test_the_login_page_links_to_the_reset(client, user):
    page = client.get("/login/").content.decode()
    assert 'href="/password/reset/"' in page and "Forgot password?" in page
    reset_page = client.get("/password/reset/").content.decode()
    assert "needs two-factor authentication" in reset_page
    assert "reset it by e-mail" not in reset_page  # no SMTP configured


def test_a_right_code_resets_the_password_and_ends_every_session(
        client, user, device, published, django_capture_on_commit_callbacks):
    old_session = Client()
    old_session.force_login(user)
    old_key = old_session.cookies["sessionid"].value
    with django_capture_on_commit_callbacks(execute=True):
        response = reset(client, code=code_for(device))
    assert response.url == "/login/"
    user.refresh_from_db()
    assert user.check_password(NEW) and not user.check_password(PASSWORD)
    assert not Session.objects.filter(session_key=old_key).exists()
    assert [data["session_keys"] for _, event, data in published if event == "force_logout"] == [[old_key]]
    assert audit_actions(user)[-1] == "password_reset"


def audit_actions(user) -> list[str]:
    from accounts.models import AuditEvent

    return list(AuditEvent.objects.filter(actor=user.username).order_by("pk").values_list("action", flat=True))


def test_a_recovery_code_resets_the_password_once(client, user, device):
    codes = otp.replace_recovery_codes(user=user)
    assert reset(client, code=codes[0]).status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)
    again = reset(client, code=codes[0], new="yet-another-passphrase-77")
    assert again.status_code == 400
    user.refresh_from_db()
    assert user.check_password(NEW)


def _errors(response) -> list[str]:
    return re.findall(r'<ul class="errorlist[^"]*"[^>]*>.*?</ul>', response.content.decode(), re.S)


def test_a_wrong_code_an_unknown_user_and_a_user_without_2fa_get_the_same_answer(client, make_user, user, device):
    make_user("plain", PASSWORD)  # no two-factor
    wrong = reset(client, code="123456" if code_for(device) != "123456" else "654321")
    unknown = reset(client, username="nobody")
    plain = reset(client, username="plain", code="123456")
    for response in (wrong, unknown, plain):
        assert response.status_code == 400
        assert _errors(response) == _errors(wrong)
    assert len(_errors(wrong)) == 1 and INVALID_RESET in _errors(wrong)[0]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert "password_reset_failed" in audit_actions(user)


def test_a_weak_or_mismatched_new_password_spends_no_code(client, user, device):
    code = code_for(device)
    weak = reset(client, code=code, new="password")
    assert weak.status_code == 400 and "This password is too common." in weak.content.decode()
    mismatch = reset(client, code=code, confirm=NEW + "x")
    assert mismatch.status_code == 400 and "The two passwords do not match." in mismatch.content.decode()
    assert reset(client, code=code).status_code == 302  # the same code still works
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_reset_attempts_are_throttled_like_the_login(client, user, device, settings):
    settings.LOGIN_RATE_LIMIT_MIN = "3 per minute"
    for _ in range(3):
        assert reset(client, code="000001").status_code == 400
    limited = reset(client, code=code_for(device))
    assert limited.status_code == 429
    assert "Too many login attempts" in limited.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_reset_form_is_csrf_protected(user, device):
    strict = Client(enforce_csrf_checks=True)
    assert reset(strict, code=code_for(device)).status_code == 403
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_reset_by_e_mail_is_off_without_smtp(client, user):
    assert client.get("/password/reset/email/").status_code == 404


def test_the_reset_by_e_mail_sends_a_working_link_when_smtp_is_configured(client, make_user, settings):
    settings.EMAIL_HOST = "smtp.example.test"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    trader = make_user("trader", PASSWORD, email="trader@example.test")
    other_session = signed_in_client(trader)
    assert "reset it by e-mail" in client.get("/password/reset/").content.decode()
    unknown = client.post("/password/reset/email/", {"email": "nobody@example.test"})
    known = client.post("/password/reset/email/", {"email": "trader@example.test"})
    assert unknown.url == known.url == "/password/reset/email/sent/"  # the same answer either way
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["trader@example.test"]
    link = re.search(r"https?://[^/]+(/password/reset/[^/]+/[^/]+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": NEW, "new_password2": NEW})
    assert done.url == "/login/"
    trader.refresh_from_db()
    assert trader.check_password(NEW)
    assert other_session.get("/").url == "/login/?next=/"
    assert "password_reset" in audit_actions(trader)


def test_the_daily_expiry_forgets_the_sessions_it_ends(make_user):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import expire_sessions

    trader = make_user("trader", PASSWORD)
    signed_in_client(trader)
    assert UserSession.objects.filter(user=trader).count() == 1
    expire_sessions(now=timezone.now() + timedelta(days=2))
    assert UserSession.objects.filter(user=trader).count() == 0
