"""A trader's day in a real browser, against the platform as `make run` starts it (honcho:
web, feed, worker, beat on a throwaway database): first-run setup, an API key, a paper
order from the form that appears in the order book and positions of another open tab
without a reload, closing the position, semi-auto orders approved in the Action Center as
they arrive, the analyzer toggle changing the banner, a chart drawing live ticks, and a
second user's browser that never sees any of it. Screenshots of the main pages are kept
(tests/browser/conftest.py: screenshot_dir)."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from tests.browser.conftest import screenshot_dir
from tests.e2e.procs import ROOT, honcho, platform_env

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PASSWORD = "a-long-and-unusual-passphrase-7"
SECOND_PASSWORD = "another-long-passphrase-8"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("journey")
    env = platform_env(tmp, suffix="journey")
    env.update(WORKER_CONCURRENCY="1")
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v0"], ["loadsandbox"]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    base = f"http://127.0.0.1:{env['PORT']}"

    def answers() -> bool:
        try:
            return httpx.get(base + "/health/live", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    with honcho(env, tmp / "honcho.log", ready=answers):
        yield {"base": base, "env": env, "manage": manage, "log": tmp / "honcho.log"}


def api(base: str, endpoint: str, key: str, **fields) -> dict:
    response = httpx.post(f"{base}/api/v1/{endpoint}", json={"apikey": key, **fields}, timeout=30)
    return response.json()


def record_events(page) -> None:
    """Keep every browser-channel frame the tab receives in window.__events."""
    page.add_init_script("""
        window.__events = [];
        document.addEventListener("oa:any", function (e) { window.__events.push(e.detail); });
    """)


def wait_live(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("live-status")).to_have_text("live", timeout=20_000)


def shoot(page, name: str) -> None:
    page.bring_to_front()  # a background tab is not painted, so it could not be captured
    page.screenshot(path=str(screenshot_dir() / f"{name}.png"), full_page=True)


def test_a_traders_day_in_the_browser(platform, chromium):
    from playwright.sync_api import expect

    base = platform["base"]
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    record_events(page)

    # 1. First-run setup, then sign in.
    page.goto(base + "/")
    expect(page).to_have_url(base + "/setup/")
    page.fill("#id_username", "trader")
    page.fill("#id_email", "trader@example.com")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_confirm", PASSWORD)
    page.get_by_role("button", name="Create account and sign in").click()
    expect(page.get_by_role("heading", name="Hello, trader")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    page.goto(base + "/login/")
    page.fill("#id_username", "trader")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, trader")).to_be_visible()
    expect(page.get_by_test_id("mode-banner")).to_contain_text("PAPER")

    # 2. An API key.
    page.goto(base + "/account/apikey/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Generate new key").click()
    key = page.get_by_test_id("new-api-key").text_content().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)

    # A second user, signed in in a browser of their own, watching their own order book.
    subprocess.run([*platform["manage"], "shell", "-c",
                    "from accounts.models import User; "
                    f"User.objects.create_user('other', password={SECOND_PASSWORD!r})"],
                   cwd=ROOT, env=platform["env"], check=True, capture_output=True, timeout=120)
    other_context = chromium.new_context(viewport={"width": 1280, "height": 800})
    other = other_context.new_page()
    record_events(other)
    other.goto(base + "/login/")
    other.fill("#id_username", "other")
    other.fill("#id_password", SECOND_PASSWORD)
    other.get_by_role("button", name="Sign in").click()
    other.goto(base + "/orders/")
    wait_live(other)

    # 3. A paper order from the form appears in the order book and positions of other tabs.
    book = context.new_page()
    book.goto(base + "/orders/")
    wait_live(book)
    positions = context.new_page()
    positions.goto(base + "/positions/")
    wait_live(positions)
    page.goto(base + "/place/")
    wait_live(page)
    page.get_by_label("Symbol").fill("SBIN")
    page.get_by_label("Exchange").select_option("NSE")
    page.get_by_label("Quantity").fill("5")
    page.get_by_role("button", name="Place order").click()
    orderid = page.get_by_test_id("placed-orderid").text_content().strip()
    assert orderid
    row = book.locator(f'[data-testid="order-row"][data-orderid="{orderid}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("complete")
    expect(positions.locator('[data-testid="position-row"][data-symbol="SBIN"]')).to_contain_text("5")
    shoot(book, "orderbook")
    shoot(positions, "positions")

    # 4. Close the position.
    positions.once("dialog", lambda dialog: dialog.accept())
    positions.locator('[data-testid="position-row"][data-symbol="SBIN"]').get_by_role("button", name="Close").click()
    expect(positions.locator('[data-testid="position-row"][data-symbol="SBIN"]')).to_contain_text("0")
    book_after = api(base, "positionbook", key)
    sbin = [p for p in book_after["data"] if p["symbol"] == "SBIN"]
    assert sbin and int(float(sbin[0]["quantity"])) == 0

    # 5. Semi-auto: an API order waits in the Action Center, appears live, and fills once approved.
    page.goto(base + "/action-center/")
    wait_live(page)
    page.get_by_label("Semi-auto").check()
    expect(page.get_by_label("Semi-auto")).to_be_checked()
    queued = api(base, "placeorder", key, strategy="journey", symbol="INFY", exchange="NSE", action="BUY",
                 quantity="2", pricetype="MARKET", product="MIS")
    assert queued["status"] == "success", queued
    pending = page.get_by_test_id("pending-row")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("INFY")
    shoot(page, "action-center")
    pending.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("pending-row")).to_have_count(0)
    infy = book.locator('[data-testid="order-row"]', has_text="INFY")
    expect(infy).to_contain_text("complete")
    page.get_by_label("Semi-auto").uncheck()

    # 6. The analyzer toggle changes the banner of every open tab.
    page.goto(base + "/sandbox/")
    expect(page.get_by_test_id("mode-banner")).to_contain_text("no broker session")
    page.get_by_label("Analyze mode").click()
    expect(page.get_by_test_id("mode-banner")).to_contain_text("analyze mode")
    expect(book.get_by_test_id("mode-banner")).to_contain_text("analyze mode")
    shoot(page, "sandbox")

    # 7. The quote page's chart draws live ticks.
    page.goto(base + "/quote/?exchange=NSE&symbol=RELIANCE")
    wait_live(page)
    chart = page.get_by_test_id("chart")
    expect(chart.locator("canvas").first).to_be_visible()
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=chart]').dataset.ticksDrawn || 0) >= 3",
        timeout=30_000)
    shoot(page, "quote")

    # The dashboard, for the README.
    page.goto(base + "/")
    page.wait_for_load_state("networkidle")
    shoot(page, "dashboard")

    # 8. The second user's browser saw none of the first user's events.
    events = other.evaluate("window.__events")
    seen = [frame for frame in events if frame.get("type") not in ("hello", "market_data")]
    assert seen == [], seen
    mine = page.evaluate("window.__events")
    assert all(frame.get("user_id", "trader") == "trader" for frame in mine)
    other_context.close()
    context.close()
