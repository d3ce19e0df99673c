"""Hosted Python strategies in a real browser: upload a script through the form, its page
renders under the Content-Security-Policy, and the log view shows new lines without a reload."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


def test_upload_a_script_and_watch_its_log_grow_without_a_reload(browser_page, live_server, settings, tmp_path):
    from playwright.sync_api import expect

    from accounts.models import User
    from strategies.hosted import process
    from strategies.models import HostedStrategy

    settings.HOSTED_DIR = tmp_path / "hosted"
    page, base = browser_page, live_server.url
    page.add_init_script(RECORD_VIOLATIONS)
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    page.goto(base + "/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, admin")).to_be_visible()

    page.goto(base + "/python/")
    script = tmp_path / "main.py"
    script.write_text("print('hello from the browser test')\n")
    page.fill("#id_name", "Browser bot")
    page.set_input_files("#id_code", str(script))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="Browser bot")).to_be_visible()
    expect(page.get_by_test_id("hosted-log")).to_contain_text("No output yet.")

    strategy = HostedStrategy.objects.get(name="Browser bot")
    folders = process.folders_for(strategy.pk)
    folders.logs.mkdir(parents=True)
    folders.log.write_text("2026-11-30 10:00:00 | tick 1 from the strategy\n")
    expect(page.get_by_test_id("hosted-log")).to_contain_text("tick 1 from the strategy", timeout=10_000)
    assert page.evaluate("window.__cspViolations") == []
