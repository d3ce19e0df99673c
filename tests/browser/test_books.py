"""The books and the dashboard in a real browser under the Content-Security-Policy: the
tables sort and filter, the confirm dialog guards cancel and close, the actions land in
the sandbox, and the dashboard draws its P&L curve (lightweight-charts, from 'self')."""

from __future__ import annotations

from decimal import Decimal

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline").slice(0, 80)
                              + " " + (event.sourceFile || "") + ":" + event.lineNumber);
});
"""


def clean(page) -> None:
    page.wait_for_load_state("networkidle")
    found = page.evaluate("window.__cspViolations || []")
    assert found == [], (page.url, found)


def order(symbol: str, pricetype: str, price: str, quantity: int = 1) -> dict:
    return {"strategy": "browser", "symbol": symbol, "exchange": "NSE", "action": "BUY",
            "quantity": Decimal(quantity), "pricetype": pricetype, "product": "MIS", "price": Decimal(price),
            "trigger_price": Decimal(0), "disclosed_quantity": 0}


def test_the_books_sort_filter_and_act_with_a_confirmation(browser_page, live_server, market):
    from playwright.sync_api import expect

    from accounts.models import User
    from brokers.sandbox.models import SandboxOrder, SandboxPosition
    from orders.services import OrderPath, submit_order_request

    page, base = browser_page, live_server.url
    page.add_init_script(RECORD_VIOLATIONS)
    trader = User.objects.create_user("trader", password=PASSWORD)
    filled = submit_order_request(user=trader, path=OrderPath.PLACE, data=order("SBIN", "MARKET", "0", 10))
    low = submit_order_request(user=trader, path=OrderPath.PLACE, data=order("SBIN", "LIMIT", "700"))
    high = submit_order_request(user=trader, path=OrderPath.PLACE, data=order("SBIN", "LIMIT", "710"))
    ids = [o.body["orderid"] for o in (filled, low, high)]

    page.goto(base + "/login/")
    page.fill("#id_username", "trader")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, trader")).to_be_visible()
    expect(page.locator("#pnl-chart canvas").first).to_be_attached()  # the curve is drawn
    clean(page)

    page.goto(base + "/orders/")
    rows = page.get_by_test_id("order-row")
    expect(rows).to_have_count(3)
    clean(page)
    price = page.locator("#book-table th", has_text="Price").first
    price.click()  # ascending: the market order (price 0) first, then 700, 710
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.orderid)") == ids
    price.click()
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.orderid)") == ids[::-1]
    page.get_by_test_id("book-filter").fill("complete")
    expect(page.locator('[data-testid="order-row"]:visible')).to_have_count(1)
    page.get_by_test_id("book-filter").fill("")

    page.once("dialog", lambda dialog: dialog.dismiss())  # "no": nothing is sent
    page.locator(f'[data-orderid="{ids[1]}"] [data-testid="cancel-order"]').click()
    expect(rows).to_have_count(3)
    assert SandboxOrder.objects.get(orderid=ids[1]).status == "open"
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f'[data-orderid="{ids[1]}"] [data-testid="cancel-order"]').click()
    expect(page.get_by_text(f"Order {ids[1]} cancelled.")).to_be_visible()
    assert SandboxOrder.objects.get(orderid=ids[1]).status == "cancelled"

    page.goto(base + "/positions/")
    expect(page.locator('[data-testid="position-row"][data-symbol="SBIN"]')).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("close-position").click()
    expect(page.get_by_text("Close NSE:SBIN MIS: exit order")).to_be_visible()
    assert SandboxPosition.objects.get(user=trader, symbol="SBIN").quantity == 0

    clean(page)
    for path in ("/trades/", "/holdings/", "/risk/", "/reconciliation/"):
        page.goto(base + path)
        clean(page)
