"""The Broker and monitoring pages in a real browser: no Content-Security-Policy violation,
the charts draw the request log, the health panel loads itself through htmx, and a pushed
``broker_session`` event (as the browser channel dispatches it) shows the reconnect prompt."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.conftest import screenshot_dir

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline") + " "
                              + event.sourceFile);
});
"""


def test_broker_and_monitoring_pages_work_under_the_policy(browser_page, live_server):
    from django.utils import timezone
    from playwright.sync_api import expect

    from accounts.models import ApiRequest, User
    from accounts.services import store_broker_app_credentials

    page, base = browser_page, live_server.url
    page.add_init_script(RECORD_VIOLATIONS)
    admin = User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    store_broker_app_credentials(user=admin, broker="fakelive", api_key="k", api_secret="s")
    now = timezone.now()
    ApiRequest.objects.bulk_create([
        ApiRequest(at=now - timedelta(minutes=minute), user=admin, method="POST", endpoint="placeorder",
                   status=200 if minute % 5 else 500, latency_ms=3.0 + minute, broker="sandbox",
                   body='{"apikey":"***","symbol":"SBIN"}') for minute in range(30)])

    page.goto(base + "/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, admin")).to_be_visible()

    def clean() -> None:  # the violations of the page now open (the list starts anew on each page)
        page.wait_for_load_state("networkidle")
        name = page.url.split("//", 1)[1].split("/", 1)[1].strip("/").replace("/", "-") or "home"
        page.screenshot(path=str(screenshot_dir() / f"{name}.png"), full_page=True)  # CI keeps them
        found = page.evaluate("window.__cspViolations")
        assert found == [], (page.url, found)

    page.goto(base + "/broker/")
    expect(page.get_by_role("heading", name="Master contracts")).to_be_visible()
    clean()
    expect(page.get_by_test_id("reconnect-prompt")).to_be_hidden()
    page.evaluate("""() => document.dispatchEvent(new CustomEvent("oa:broker_session",
        {detail: {type: "broker_session", broker: "fakelive", live: false, expires_at: null}}))""")
    prompt = page.get_by_test_id("reconnect-prompt")
    expect(prompt).to_be_visible()
    expect(prompt.get_by_role("link", name="Reconnect")).to_have_attribute("href", "/broker/fakelive/login/")

    page.goto(base + "/monitor/requests/")
    expect(page.get_by_test_id("request-log")).to_contain_text("placeorder")
    clean()
    page.goto(base + "/monitor/latency/")
    expect(page.get_by_test_id("chart-endpoints").locator("canvas").first).to_be_attached()
    clean()
    page.goto(base + "/monitor/traffic/")
    expect(page.get_by_test_id("chart-traffic").locator("canvas").first).to_be_attached()
    clean()
    page.goto(base + "/monitor/health/")
    expect(page.locator('[data-check="database"][data-state="ok"]')).to_be_visible()
    clean()
    page.goto(base + "/broker/fakelive/credentials/")
    clean()
