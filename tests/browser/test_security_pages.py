"""The Security section in a real browser, under the Content-Security-Policy: sessions,
login activity, and a forgotten password reset by authenticator code from the login page."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"
NEW = "a-brand-new-passphrase-for-8"

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def totp_now(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():0{device.digits}d}"


def test_sessions_activity_and_a_reset_by_authenticator_code(browser_page, live_server):
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from playwright.sync_api import expect

    from accounts.models import User

    page, base = browser_page, live_server.url
    page.add_init_script(RECORD_VIOLATIONS)
    trader = User.objects.create_user("trader", password=PASSWORD)
    # Another browser, signed in first.
    elsewhere = page.context.browser.new_context(user_agent="Elsewhere/1.0").new_page()
    elsewhere.goto(base + "/login/")
    elsewhere.fill("#id_username", "trader")
    elsewhere.fill("#id_password", PASSWORD)
    elsewhere.get_by_role("button", name="Sign in").click()
    expect(elsewhere).to_have_url(base + "/")

    page.goto(base + "/login/")
    page.fill("#id_username", "trader")
    page.fill("#id_password", "not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Invalid username or password.")).to_be_visible()
    page.fill("#id_username", "trader")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/")

    page.goto(base + "/account/activity/")
    expect(page.get_by_role("heading", name="Login activity")).to_be_visible()
    expect(page.locator('tr[data-action="login_failed"]')).to_have_count(1)
    page.screenshot(path="/tmp/security-activity.png", full_page=True)

    page.goto(base + "/account/sessions/")
    expect(page.get_by_role("heading", name="Active sessions")).to_be_visible()
    expect(page.get_by_text("Elsewhere/1.0")).to_be_visible()
    expect(page.get_by_test_id("this-session")).to_have_count(1)
    page.screenshot(path="/tmp/security-sessions.png", full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page.get_by_text("1 other session ended")).to_be_visible()
    expect(page.get_by_text("Elsewhere/1.0")).to_have_count(0)
    elsewhere.goto(base + "/account/apikey/")
    expect(elsewhere).to_have_url(base + "/login/?next=/account/apikey/")
    assert violations(page) == []

    # Forgotten password: two-factor on, then reset from the login page with the app's code.
    device = TOTPDevice.objects.create(user=trader, name="phone", confirmed=True)
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("link", name="Forgot password?").click()
    expect(page).to_have_url(base + "/password/reset/")
    page.fill("#id_username", "trader")
    page.fill("#id_code", totp_now(device))
    page.fill("#id_new_password1", NEW)
    page.fill("#id_new_password2", NEW)
    page.screenshot(path="/tmp/security-reset.png", full_page=True)
    page.get_by_role("button", name="Reset password").click()
    expect(page).to_have_url(base + "/login/")
    expect(page.get_by_text("Your password was reset.")).to_be_visible()
    assert violations(page) == []
    trader.refresh_from_db()
    assert trader.check_password(NEW)
