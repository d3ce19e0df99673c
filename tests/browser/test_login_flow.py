"""A fresh install in a real browser: setup, dashboard, API key, logout, login."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"


def ping(base_url: str, key: str) -> dict:
    request = urllib.request.Request(
        base_url + "/api/v1/ping", data=json.dumps({"apikey": key}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_fresh_install_is_set_up_and_used_in_the_browser(browser_page, live_server):
    from playwright.sync_api import expect

    from accounts.models import User

    page, base = browser_page, live_server.url

    page.goto(base + "/")
    expect(page).to_have_url(base + "/setup/")
    expect(page.get_by_role("heading", name="Create the administrator")).to_be_visible()

    page.fill("#id_username", "admin")
    page.fill("#id_email", "admin@example.com")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_confirm", PASSWORD)
    page.get_by_role("button", name="Create account and sign in").click()

    expect(page).to_have_url(base + "/")
    expect(page.get_by_role("heading", name="Hello, admin")).to_be_visible()
    expect(page.get_by_test_id("broker")).to_have_text("sandbox")
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
    page.screenshot(path="/tmp/dashboard.png", full_page=True)
    assert list(User.objects.values_list("username", "is_superuser")) == [("admin", True)]

    page.get_by_role("navigation").get_by_role("link", name="API key").click()
    expect(page).to_have_url(base + "/account/apikey/")
    page.get_by_role("button", name="Generate new key").click()
    shown = page.get_by_test_id("new-api-key")
    expect(shown).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    key = shown.text_content()
    assert ping(base, key) == {"status": "success", "data": {"message": "pong", "broker": "sandbox"}}

    page.reload()  # re-sends the form: refused as stale, so the key just copied stays valid
    expect(page.get_by_text("no new key was generated")).to_be_visible()
    expect(page.get_by_test_id("new-api-key")).to_have_count(0)
    assert key not in page.content()
    assert ping(base, key)["status"] == "success"

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(base + "/login/")
    expect(page.get_by_text("You have been signed out.")).to_be_visible()
    page.goto(base + "/")
    expect(page).to_have_url(base + "/login/?next=/")

    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(base + "/")
    expect(page.get_by_role("heading", name="Hello, admin")).to_be_visible()
