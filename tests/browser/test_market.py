"""The Market pages in chromium: the quote chart draws its history, each tick the browser
channel delivers moves the last candle, the interval is saved and restored, and the option
chain updates its prices from ticks, all under the Content-Security-Policy. live_server has
no WebSocket, so ticks are handed to the page as the channel would: `oa:market_data` events."""

from __future__ import annotations

import pytest

from marketdata.models import ChartPreference

pytestmark = pytest.mark.browser

PASSWORD = "a-long-and-unusual-passphrase-7"

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline") + " "
                              + (event.sourceFile || "") + ":" + event.lineNumber);
});
"""

TICK = """([symbol, exchange, ltp]) => document.dispatchEvent(new CustomEvent("oa:market_data", {detail: {
  type: "market_data", symbol: symbol, exchange: exchange, mode: 2, broker: "sandbox",
  data: {ltp: ltp, timestamp: Date.now(), open: 800, high: Math.max(800, ltp), low: 790, close: 795,
         volume: 1234}}}))"""


@pytest.fixture
def trader_page(browser_page, live_server, market, django_user_model):
    django_user_model.objects.create_user(username="trader", password=PASSWORD)
    page = browser_page
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "trader")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    return page


def violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def test_the_chart_draws_history_then_ticks_and_keeps_the_interval(trader_page, live_server, market):
    from playwright.sync_api import expect

    page = trader_page
    market.set("NSE:SBIN", "800")
    page.goto(live_server.url + "/quote/?symbol=SBIN&exchange=NSE")
    chart = page.get_by_test_id("chart")
    expect(chart.locator("canvas").first).to_be_visible()
    expect(page.locator("[data-chart-status]")).to_have_text("")  # history loaded, no error shown
    page.evaluate(TICK, ["SBIN", "NSE", 805.5])
    page.evaluate(TICK, ["SBIN", "NSE", 806.25])
    page.evaluate(TICK, ["INFY", "NSE", 1500])  # another symbol's tick is not drawn here
    expect(chart).to_have_attribute("data-ticks-drawn", "2")
    expect(page.get_by_test_id("ltp")).to_have_text("806.25")
    expect(page.get_by_test_id("change")).to_have_text("11.25 (1.42%)")

    page.get_by_role("button", name="5m", exact=True).click()
    expect(page.get_by_role("button", name="5m", exact=True)).to_have_attribute("aria-pressed", "true")
    page.wait_for_function("() => document.querySelector('[data-chart-status]').textContent === ''")
    page.wait_for_timeout(300)
    assert ChartPreference.objects.get(key="interval").value == "5m"
    page.select_option("[data-chart-type]", "line")
    page.wait_for_timeout(300)
    assert ChartPreference.objects.get(key="chart_type").value == "line"
    page.evaluate(TICK, ["SBIN", "NSE", 807])
    expect(chart).to_have_attribute("data-ticks-drawn", "3")

    page.reload()
    expect(page.get_by_role("button", name="5m", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-chart-type]")).to_have_value("line")
    page.locator("[data-theme-toggle]").click()  # the chart follows the theme without an error
    assert violations(page) == []


def test_the_search_box_leads_to_a_quote(trader_page, live_server):
    from playwright.sync_api import expect

    page = trader_page
    page.goto(live_server.url + "/quote/")
    page.get_by_test_id("symbol-search").fill("RELI")
    page.get_by_role("link", name="RELIANCE").click()
    expect(page.get_by_role("heading", name="NSE:RELIANCE")).to_be_visible()
    assert violations(page) == []


def test_the_option_chain_moves_with_ticks(trader_page, live_server, market):
    from playwright.sync_api import expect

    page = trader_page
    market.set("NSE_INDEX:NIFTY", "26010")
    page.goto(live_server.url + "/optionchain/?underlying=NIFTY&exchange=NSE_INDEX")
    ltp = page.get_by_test_id("ce-ltp").first
    expect(ltp).to_have_text("150.00")
    expect(page.locator('[data-atm="true"]')).to_have_count(1)
    page.evaluate(TICK, ["NIFTY29DEC2626000CE", "NFO", 163.4])
    expect(ltp).to_have_text("163.40")
    assert violations(page) == []


def test_a_new_underlying_gets_its_own_nearest_expiry(trader_page, live_server, market):
    from datetime import date
    from decimal import Decimal

    from playwright.sync_api import expect

    from brokers.sandbox.testing import make_instrument

    page = trader_page
    make_instrument("BANKNIFTY", "NSE_INDEX", instrumenttype="")
    make_instrument("BANKNIFTY26JAN2760000CE", "NFO", name="BANKNIFTY", lotsize=30, expiry=date(2027, 1, 26),
                    strike=Decimal(60000), option_type="CE", instrumenttype="OPTIDX", underlying_exchange="NSE_INDEX")
    market.set("NSE_INDEX:BANKNIFTY", "60010")
    market.set("NFO:BANKNIFTY26JAN2760000CE", "400")
    page.goto(live_server.url + "/optionchain/?underlying=NIFTY&exchange=NSE_INDEX")
    expect(page.get_by_test_id("expiry")).to_have_value("29-DEC-26")
    page.get_by_label("Underlying").fill("BANKNIFTY")
    page.get_by_label("Underlying").dispatch_event("change")
    page.get_by_role("button", name="Show chain").click()
    expect(page.get_by_test_id("expiry")).to_have_value("26-JAN-27")
    expect(page.get_by_test_id("ce-ltp").first).to_have_text("400.00")
    assert violations(page) == []
