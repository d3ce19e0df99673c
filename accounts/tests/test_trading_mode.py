"""The mode every page shows says where the next order goes: LIVE at a named broker, or
PAPER (analyze mode, or no live broker session), on the banner and the dashboard alike."""

from __future__ import annotations

import pytest

from accounts.brokers import forget_live_broker
from accounts.selectors import trading_mode
from accounts.services import set_analyze_mode, store_broker_session

pytestmark = pytest.mark.django_db


def page(client, user) -> str:
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_new_user_without_a_broker_session_is_paper_everywhere(client, user):
    mode = trading_mode(user)
    assert (mode.live, mode.broker, mode.reason) == (False, "sandbox", "no_session")
    html = page(client, user)
    assert 'data-mode="paper"' in html and "PAPER · no broker session" in html
    assert "LIVE" not in html


def test_a_live_session_is_live_at_that_broker_until_analyze_mode(client, user):
    store_broker_session(user=user, broker="fakelive", access_token="token-of-the-day")
    forget_live_broker(user.pk)
    mode = trading_mode(user)
    assert (mode.live, mode.broker) == (True, "fakelive")
    html = page(client, user)
    assert 'data-mode="live"' in html and "LIVE · fakelive" in html

    set_analyze_mode(user=user, on=True)
    mode = trading_mode(user)
    assert (mode.live, mode.broker, mode.reason, mode.session_broker) == (False, "sandbox", "analyze", "fakelive")
    html = page(client, user)
    assert 'data-mode="paper"' in html and "PAPER · analyze mode" in html and "data from fakelive" in html
    assert "LIVE ·" not in html


def test_the_banner_fragment_answers_only_a_signed_in_user(client, user):
    assert client.get("/partials/mode-banner/").status_code == 302
    client.force_login(user)
    response = client.get("/partials/mode-banner/")
    assert response.status_code == 200 and b'id="mode-banner"' in response.content


@pytest.mark.parametrize(("value", "shown"), [("1234.5", "₹1,234.50"), (-0.85, "-₹0.85"), (0, "₹0.00"),
                                               (None, "—"), ("n/a", "n/a")])
def test_money_is_shown_with_its_sign_before_the_rupee(value, shown):
    from accounts.templatetags.oa import inr

    assert inr(value) == shown
