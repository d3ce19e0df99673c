"""Routing: which broker serves a user, by login state and analyze mode."""

from __future__ import annotations

import pytest

from accounts import brokers as routing
from accounts.services import store_broker_session
from brokers import registry
from brokers.base import BrokerNotAvailable


@pytest.fixture
def fake_brokers(monkeypatch):
    made = []
    monkeypatch.setattr(registry, "_factories", {})

    def factory_for(name):
        def factory(user, credentials):
            made.append((name, user.username, credentials))
            return name
        return factory

    registry.register("sandbox", factory_for("sandbox"))
    registry.register("zerodha", factory_for("zerodha"))
    return made


def test_a_user_without_a_broker_login_is_served_by_the_sandbox(user, fake_brokers):
    assert routing.adapter_for(user, analyze_mode=False) == "sandbox"
    assert fake_brokers[-1] == ("sandbox", user.username, None)


def test_a_logged_in_user_is_served_by_their_broker_with_their_decrypted_credentials(user, fake_brokers):
    store_broker_session(user=user, broker="zerodha", access_token="tok", client_id="AB1234")
    assert routing.adapter_for(user, analyze_mode=False) == "zerodha"
    name, username, credentials = fake_brokers[-1]
    assert (name, username) == ("zerodha", user.username)
    assert (credentials.broker, credentials.access_token, credentials.client_id) == ("zerodha", "tok", "AB1234")


def test_analyze_mode_sends_orders_to_the_sandbox_but_data_to_the_live_broker(user, fake_brokers):
    store_broker_session(user=user, broker="zerodha", access_token="tok")
    assert routing.adapter_for(user, analyze_mode=True) == "sandbox"
    assert routing.adapter_for(user, analyze_mode=True, for_orders=False) == "zerodha"


def test_a_broker_without_an_installed_adapter_is_a_clear_error(user, fake_brokers):
    store_broker_session(user=user, broker="fyers", access_token="tok")
    with pytest.raises(BrokerNotAvailable, match="fyers"):
        routing.adapter_for(user, analyze_mode=False)


def test_another_users_login_does_not_route_this_user(make_user, fake_brokers):
    alice, bob = make_user("alice"), make_user("bob")
    store_broker_session(user=alice, broker="zerodha", access_token="tok")
    assert routing.adapter_for(bob, analyze_mode=False) == "sandbox"


def test_a_login_routes_the_very_next_request_in_this_process(user, fake_brokers):
    assert routing.active_broker_name(user) == "sandbox"  # now cached for LIVE_BROKER_TTL
    store_broker_session(user=user, broker="zerodha", access_token="tok")
    assert routing.active_broker_name(user) == "zerodha"
