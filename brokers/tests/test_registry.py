"""Routing: which broker serves a user, by login state and analyze mode."""

from __future__ import annotations

import pytest

from accounts.services import store_broker_session
from brokers import registry


@pytest.fixture
def fake_brokers(monkeypatch):
    made = []
    monkeypatch.setattr(registry, "_factories", {})

    def factory_for(name):
        def factory(user, credential):
            made.append((name, user.username, credential and credential.broker))
            return name
        return factory

    registry.register("sandbox", factory_for("sandbox"))
    registry.register("zerodha", factory_for("zerodha"))
    return made


def test_a_user_without_a_broker_login_is_served_by_the_sandbox(user, fake_brokers):
    assert registry.adapter_for(user, analyze_mode=False) == "sandbox"


def test_a_logged_in_user_is_served_by_their_broker_with_their_credential(user, fake_brokers):
    store_broker_session(user=user, broker="zerodha", access_token="tok")
    assert registry.adapter_for(user, analyze_mode=False) == "zerodha"
    assert fake_brokers[-1] == ("zerodha", user.username, "zerodha")


def test_analyze_mode_sends_orders_to_the_sandbox_but_data_to_the_live_broker(user, fake_brokers):
    store_broker_session(user=user, broker="zerodha", access_token="tok")
    assert registry.adapter_for(user, analyze_mode=True) == "sandbox"
    assert registry.adapter_for(user, analyze_mode=True, for_orders=False) == "zerodha"


def test_a_broker_without_an_installed_adapter_is_a_clear_error(user, fake_brokers):
    store_broker_session(user=user, broker="fyers", access_token="tok")
    with pytest.raises(registry.BrokerNotAvailable, match="fyers"):
        registry.adapter_for(user, analyze_mode=False)


def test_registering_a_different_adapter_under_a_taken_name_is_refused(fake_brokers):
    with pytest.raises(ValueError):
        registry.register("zerodha", lambda user, credential: None)


def test_another_users_login_does_not_route_this_user(make_user, fake_brokers):
    alice, bob = make_user("alice"), make_user("bob")
    store_broker_session(user=alice, broker="zerodha", access_token="tok")
    assert registry.adapter_for(bob, analyze_mode=False) == "sandbox"
