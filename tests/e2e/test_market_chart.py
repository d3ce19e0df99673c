"""The quote chart on the real platform (`make run`'s processes under honcho): chromium
signs in, opens SBIN's quote, and the simulated feed's ticks reach the chart through the
browser channel (/ws/app on daphne), each drawn on the last candle or a new one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.procs import ROOT, honcho, platform_env

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "a-long-and-unusual-passphrase-7"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chart")
    env = platform_env(tmp, suffix="chart", servers=2)
    env.update(WORKER_CONCURRENCY="1", SIM_TICKS_PER_SECOND="5")
    manage = [sys.executable, "manage.py"]
    create = f"from accounts.models import User; User.objects.create_user('charts', password={PASSWORD!r})"
    for command in (["migrate", "--noinput", "-v0"], ["loadsandbox"], ["shell", "-c", create]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    base = f"http://127.0.0.1:{env['PORT']}"

    def serves_login() -> bool:
        try:
            return httpx.get(base + "/login/", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    with honcho(env, tmp / "honcho.log", ready=serves_login):
        yield {"base": base, "log": tmp / "honcho.log"}


def test_feed_ticks_move_the_quote_chart(platform):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(platform["base"] + "/login/")
            page.fill("#id_username", "charts")
            page.fill("#id_password", PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(platform["base"] + "/")
            page.goto(platform["base"] + "/quote/?symbol=SBIN&exchange=NSE")
            expect(page.get_by_test_id("live-status")).to_have_text("live")
            drawn = "Number(document.querySelector('[data-testid=chart]').dataset.ticksDrawn)"
            page.wait_for_function(f"() => {drawn} >= 3")
            page.wait_for_function(f"(before) => {drawn} > before + 3",
                                   arg=int(page.get_by_test_id("chart").get_attribute("data-ticks-drawn")))
            assert float(page.get_by_test_id("ltp").text_content()) > 0
            assert page.locator("[data-chart-status]").text_content() == ""  # the history loaded
        finally:
            browser.close()
    assert "Traceback" not in platform["log"].read_text()
