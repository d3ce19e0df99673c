"""The Sandbox pages in a real browser: no policy violation, the "Analyze mode" switch turns
the banner to PAPER without a reload, and "Reset funds" asks first, then resets."""

from __future__ import annotations

import pytest

from tests.browser.test_csp_pages import RECORD_VIOLATIONS, violations

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"


def test_toggle_analyze_mode_and_reset_funds_in_the_browser(browser_page, live_server, django_user_model):
    from playwright.sync_api import expect

    from brokers.sandbox.models import Account

    page, base = browser_page, live_server.url
    page.add_init_script(RECORD_VIOLATIONS)
    user = django_user_model.objects.create_user(username="paper", password=PASSWORD)
    page.goto(base + "/login/")
    page.fill("#id_username", "paper")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("mode-banner")).to_be_visible()

    page.goto(base + "/sandbox/")
    page.wait_for_load_state("networkidle")
    banner = page.get_by_test_id("mode-banner")
    expect(banner).to_contain_text("no broker session")
    switch = page.get_by_role("switch", name="Analyze mode")
    expect(switch).not_to_be_checked()
    switch.check()
    expect(banner).to_contain_text("analyze mode")  # re-read at once, no reload
    expect(page.get_by_test_id("analyze-toggle")).to_have_attribute("data-analyze", "on")
    user.refresh_from_db()
    assert user.analyze_mode is True

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reset funds").click()
    expect(page.get_by_text("Paper funds reset")).to_be_visible()
    assert Account.objects.get(user=user).reset_count == 1

    for path in ("/sandbox/", "/analyzer/", "/sandbox/pnl/"):
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
        assert violations(page) == [], (path, violations(page))
