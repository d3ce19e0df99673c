"""The trading pages in a real browser, under the Content-Security-Policy: symbol search
as you type fills the form, an order is placed from it, a basket is built and sent, an
options order is resolved, and the Action Center's switch, refetch and Approve work."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.browser.conftest import screenshot_dir

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


def api(base: str, endpoint: str, body: dict) -> dict:
    request = urllib.request.Request(f"{base}/api/v1/{endpoint}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def test_trading_from_the_pages(browser_page, live_server, market, django_user_model):
    from playwright.sync_api import expect

    from accounts.services import create_api_key
    from brokers.sandbox.models import SandboxPosition
    from orders.models import Order, PendingOrder

    page, base = browser_page, live_server.url
    page.add_init_script(RECORD_VIOLATIONS)
    user = django_user_model.objects.create_user("trader", password=PASSWORD)
    key = create_api_key(user=user)

    page.goto(base + "/login/")
    page.fill("#id_username", "trader")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Place: search as you type, pick, send.
    page.goto(base + "/place/")
    page.get_by_label("Symbol").press_sequentially("SBI", delay=30)
    page.locator('[data-pick-symbol="SBIN"][data-pick-exchange="BSE"]').click()
    expect(page.get_by_label("Symbol")).to_have_value("SBIN")
    expect(page.get_by_label("Exchange")).to_have_value("BSE")
    page.get_by_label("Quantity").fill("5")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("placed-orderid")).to_have_text(Order.objects.get(user=user).broker_order_id)
    page.screenshot(path=str(screenshot_dir() / "place-order.png"), full_page=True)
    # Typed, not picked: the list that arrives after the trader moved on must not cover the form.
    page.get_by_label("Symbol").fill("SBIN")
    page.get_by_label("Exchange").select_option("NSE")
    page.get_by_label("Quantity").fill("2")
    page.wait_for_timeout(600)
    expect(page.locator("#symbol-results [data-pick-symbol]")).to_have_count(0)
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_test_id("placed-orderid")).to_have_text(
        Order.objects.filter(user=user).latest("pk").broker_order_id)
    assert SandboxPosition.objects.get(user=user, symbol="SBIN", exchange="NSE").quantity == 2
    assert SandboxPosition.objects.get(user=user, symbol="SBIN", exchange="BSE").quantity == 5

    # Basket: two legs built in the page, sent as one.
    page.goto(base + "/basket/")
    for symbol, quantity in (("RELIANCE", "2"), ("SBIN", "3")):
        page.locator("#leg-symbol").fill(symbol)
        page.locator("#leg-quantity").fill(quantity)
        page.get_by_role("button", name="Add leg").click()
    expect(page.locator("#leg-count")).to_have_text("2")
    page.get_by_role("button", name="Remove leg 2").click()
    expect(page.locator("#leg-count")).to_have_text("1")
    page.get_by_role("button", name="Place basket").click()
    expect(page.get_by_test_id("basket-result")).to_have_count(1)
    page.screenshot(path=str(screenshot_dir() / "basket.png"), full_page=True)
    assert SandboxPosition.objects.get(user=user, symbol="RELIANCE").quantity == 2

    # Options: underlying, expiry (fetched for it), ATM call, one lot.
    page.goto(base + "/options/order/")
    page.get_by_label("Underlying").select_option("NFO:NIFTY")
    expect(page.get_by_label("Expiry")).to_have_value("29-DEC-26")
    page.get_by_role("button", name="Place options order").click()
    expect(page.get_by_test_id("options-symbol")).to_have_text("NIFTY29DEC2626000CE")
    page.screenshot(path=str(screenshot_dir() / "options-order.png"), full_page=True)

    # Action Center: the switch, a queued API order appearing on the event, Approve.
    page.goto(base + "/action-center/")
    page.get_by_label("Semi-auto").check()
    expect(page.get_by_text("Semi-auto on")).to_be_visible()
    user.refresh_from_db()
    assert user.order_mode == "semi_auto"
    body = api(base, "placeorder", {"apikey": key, "strategy": "s", "symbol": "SBIN", "exchange": "NSE",
                                    "action": "BUY", "quantity": "7", "pricetype": "MARKET", "product": "MIS"})
    assert body["mode"] == "semi_auto"
    expect(page.get_by_test_id("pending-row")).to_have_count(0)
    # What live.js does with the browser channel's frame (the live server has no WebSocket).
    page.evaluate("""() => document.dispatchEvent(new CustomEvent("oa:pending_order_created",
                     {detail: {type: "pending_order_created"}}))""")
    expect(page.get_by_test_id("pending-row")).to_have_count(1)
    page.screenshot(path=str(screenshot_dir() / "action-center.png"), full_page=True)
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_test_id("pending-row")).to_have_count(0)
    expect(page.get_by_test_id("action-notice")).to_contain_text("approved: Order")
    assert PendingOrder.objects.get(pk=body["pending_order_id"]).state == "approved"
    assert SandboxPosition.objects.get(user=user, symbol="SBIN", exchange="NSE").quantity == 9

    assert page.evaluate("window.__cspViolations || []") == []
