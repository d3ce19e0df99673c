"""The registry builds adapters by name from the credentials it is handed, and reads no app."""

from __future__ import annotations

import pytest

from brokers import registry
from brokers.base import BrokerCredentials, BrokerNotAvailable


@pytest.fixture
def empty_registry(monkeypatch):
    monkeypatch.setattr(registry, "_factories", {})
    monkeypatch.setattr(registry, "_logins", {})


def test_an_adapter_is_built_from_the_credentials_the_caller_passes(empty_registry):
    registry.register("zerodha", lambda user, credentials: (user, credentials))
    credentials = BrokerCredentials(broker="zerodha", access_token="tok")
    assert registry.build("zerodha", "alice", credentials) == ("alice", credentials)


def test_an_unknown_broker_is_the_spec_404_broker_module_missing(empty_registry):
    with pytest.raises(BrokerNotAvailable, match="fyers") as caught:
        registry.build("fyers", "alice", None)
    assert caught.value.http_status == 404


def test_registering_a_different_adapter_under_a_taken_name_is_refused(empty_registry):
    registry.register("zerodha", lambda user, credentials: None)
    with pytest.raises(ValueError):
        registry.register("zerodha", lambda user, credentials: None)


def test_a_broker_without_a_login_has_no_login_page(empty_registry):
    registry.register("paper", lambda user, credentials: None)
    with pytest.raises(BrokerNotAvailable):
        registry.login_for("paper")


def test_the_registry_module_imports_no_app_of_ours():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(registry))
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    ours = {"accounts", "orders", "marketdata", "strategies", "openalgo"}
    assert not {m for m in modules if m and m.split(".")[0] in ours}
