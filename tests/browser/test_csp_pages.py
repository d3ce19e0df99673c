"""Every page works in a real browser under the Content-Security-Policy: chromium reports
each refused script, style, image or frame as a `securitypolicyviolation` event and a
console error; the pages, the admin and the Swagger UI must produce none."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"

# Collects violations from the moment a document starts, before any of its own scripts run.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline") + " "
                              + (event.sourceFile || "") + ":" + event.lineNumber);
});
"""


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


@pytest.fixture
def csp_page(browser_page):
    page = browser_page
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text else None)
    page.add_init_script(RECORD_VIOLATIONS)
    page.csp_console = console
    return page


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status < 400, (url, response and response.status)
    assert response.headers.get("content-security-policy"), url
    page.wait_for_load_state("networkidle")
    assert violations(page) == [], (url, violations(page))
    assert page.csp_console == [], (url, page.csp_console)


def test_every_page_and_the_admin_render_without_a_policy_violation(csp_page, live_server):
    from playwright.sync_api import expect

    from accounts.models import ApiKey, BrokerCredential, User
    from accounts.services import create_api_key, store_broker_session
    from orders.models import RiskLimits

    page, base = csp_page, live_server.url
    admin = User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    create_api_key(user=admin)
    store_broker_session(user=admin, broker="sandbox", access_token="browser-test-access-token")
    RiskLimits.objects.get_or_create(user=admin)

    visit(page, base + "/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, admin")).to_be_visible()
    assert violations(page) == []

    # Every page of the sidebar menu, whatever pages exist now.
    paths = page.eval_on_selector_all('nav[aria-label="Main"] a[href^="/"]',
                                      "links => links.map(a => a.getAttribute('href'))")
    assert {"/", "/account/apikey/", "/account/security/", "/account/password/", "/risk/",
            "/reconciliation/", "/broker/"} <= set(paths), paths
    for path in dict.fromkeys(paths):
        if not path.startswith("/admin/"):
            visit(page, base + path)

    # The key page's confirm dialog and copy button are app.js, loaded from 'self'.
    page.goto(base + "/account/apikey/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Generate new key").click()
    expect(page.get_by_test_id("new-api-key")).to_be_visible()
    assert violations(page) == []

    # TOTP enrolment: the QR code is inline SVG.
    page.goto(base + "/account/security/")
    page.get_by_role("button", name="Set up authenticator app").click()
    expect(page.locator("svg.qr")).to_be_visible()
    page.get_by_role("button", name="Copy").click()
    assert violations(page) == []

    visit(page, base + "/admin/")
    for model in ("accounts/user", "accounts/apikey", "accounts/brokercredential", "accounts/auditevent"):
        visit(page, f"{base}/admin/{model}/")
    visit(page, f"{base}/admin/accounts/user/{admin.pk}/change/")
    visit(page, f"{base}/admin/accounts/user/add/")
    visit(page, f"{base}/admin/accounts/apikey/{ApiKey.objects.filter(user=admin).first().pk}/change/")
    visit(page, f"{base}/admin/accounts/brokercredential/{BrokerCredential.objects.get(user=admin).pk}/change/")
    # The admin's own scripts: the sidebar filter and the changelist's select-all box.
    page.goto(f"{base}/admin/accounts/apikey/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("2 of 2 selected")
    assert violations(page) == []


def test_the_swagger_ui_runs_its_nonced_inline_script(csp_page, live_server):
    from playwright.sync_api import expect

    page, base = csp_page, live_server.url
    response = page.goto(base + "/api/docs/")
    policy = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy and "'nonce-" in policy
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("OpenAlgo API v1")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/placeorder").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert violations(page) == [] and page.csp_console == []


def test_an_injected_inline_script_is_refused(csp_page, live_server):
    """The policy is really enforced: an inline script without the nonce does not run."""
    page, base = csp_page, live_server.url
    page.goto(base + "/login/")
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.__injected = true";
        document.body.appendChild(script);
    }""")
    page.wait_for_timeout(100)
    assert page.evaluate("window.__injected === true") is False
    assert any(v.startswith("script-src") for v in violations(page))
