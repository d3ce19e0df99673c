"""The webhook strategy pages in a real browser under the Content-Security-Policy: create a
strategy, copy its webhook URL, send a test alert and see it in the alert log."""

from __future__ import annotations

import pytest

from tests.browser import test_csp_pages
from tests.browser.test_csp_pages import RECORD_VIOLATIONS

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"


def violations(page) -> list[str]:
    return test_csp_pages.violations(page)


def test_create_a_strategy_copy_its_url_and_send_a_test_alert(browser_page, live_server, monkeypatch):
    from playwright.sync_api import expect

    from accounts.models import User
    from strategies import tasks
    from strategies.models import Alert

    sent: list[int] = []
    monkeypatch.setattr(tasks, "send_alert", sent.append)  # no worker here: the alert stays received
    User.objects.create_user("trader", password=PASSWORD)
    page, base = browser_page, live_server.url
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(base + "/login/")
    page.fill("#id_username", "trader")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(base + "/strategies/")
    page.wait_for_load_state("networkidle")
    assert violations(page) == [], "list"
    page.get_by_role("link", name="New strategy").click()
    page.wait_for_load_state("networkidle")
    assert violations(page) == [], "form"
    page.fill("#id_name", "Breakout")
    page.select_option("#id_kind", "positional")
    page.fill("#id_symbol_map", "SBIN,NSE,10,MIS")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Breakout")).to_be_visible()
    assert violations(page) == []

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator('[data-copy="#webhook-url"]').click()
    expect(page.locator('[data-copy="#webhook-url"]')).to_have_text("Copied")

    page.get_by_test_id("test-alert").click()
    expect(page.get_by_text("Test alert accepted: Order queued successfully for SBIN.")).to_be_visible()
    expect(page.get_by_test_id("alert-row")).to_have_count(1)
    assert sent == [Alert.objects.get().pk]
    page.goto(base + "/strategies/")
    expect(page.get_by_test_id("strategy-row")).to_have_count(1)
    assert violations(page) == []
