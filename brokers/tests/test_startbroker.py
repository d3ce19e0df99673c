"""``startbroker`` writes a package that imports, registers when installed, passes ruff and
joins the contract suite; it refuses names it must not take."""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

import brokers
from brokers import registry
from brokers.base import BrokerAdapter, CapabilityMissing, LoginKind
from brokers.management.commands import startbroker

PROJECT = Path(settings.BASE_DIR)
FILES = {"__init__.py", "apps.py", "client.py", "schemas.py", "mapping.py", "contracts.py", "stream.py", "login.py",
         "adapter.py", "testing.py", "tests/__init__.py", "tests/test_mapping.py"}


@pytest.fixture
def scaffolded(tmp_path, monkeypatch):
    """``startbroker acme`` into a temporary directory that Python sees as part of brokers/."""
    call_command("startbroker", "acme", target=tmp_path, stdout=io.StringIO())
    monkeypatch.setattr(brokers, "__path__", [*brokers.__path__, str(tmp_path)])
    monkeypatch.setattr(registry, "_factories", dict(registry._factories))
    monkeypatch.setattr(registry, "_logins", dict(registry._logins))
    yield tmp_path / "acme"
    for module in [m for m in sys.modules if m.startswith("brokers.acme")]:
        del sys.modules[module]


def test_the_package_has_the_house_layout(scaffolded):
    assert {str(path.relative_to(scaffolded)) for path in scaffolded.rglob("*.py")} == FILES


def test_the_generated_package_passes_ruff(scaffolded):
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--config", str(PROJECT / "pyproject.toml"), str(scaffolded)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_it_imports_and_registers_when_installed(scaffolded):
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "brokers.acme"]):
        assert apps.is_installed("brokers.acme")
        assert "acme" in registry.registered()
        adapter = registry.build("acme", None, None)
        assert isinstance(adapter, BrokerAdapter)
        assert registry.login_for("acme").kind is LoginKind.TOKEN


def test_the_stream_is_a_marked_stub_and_the_capabilities_say_there_is_no_feed(scaffolded):
    adapter_module = importlib.import_module("brokers.acme.adapter")
    stream = importlib.import_module("brokers.acme.stream")
    assert adapter_module.AcmeAdapter.capabilities.market_feed is False
    assert stream.__doc__.startswith("STUB, NOT A FEED")
    with pytest.raises(CapabilityMissing):
        stream.AcmeStream()


def test_the_contract_suite_hook_is_there(scaffolded):
    testing = importlib.import_module("brokers.acme.testing")
    assert callable(testing.acme_contract)


@pytest.mark.parametrize("name", ["Acme", "a", "9acme", "acme-bro", "class", "sandbox", "registry", "x" * 33])
def test_bad_or_reserved_names_are_refused(tmp_path, name):
    with pytest.raises(CommandError):
        call_command("startbroker", name, target=tmp_path)
    assert not any(tmp_path.iterdir())


def test_an_existing_package_is_never_overwritten(tmp_path):
    (tmp_path / "acme").mkdir()
    with pytest.raises(CommandError, match="already exists"):
        call_command("startbroker", "acme", target=tmp_path)
    assert not any((tmp_path / "acme").iterdir())


def test_the_real_brokers_directory_refuses_a_taken_name():
    with pytest.raises(CommandError, match="already exists"):
        call_command("startbroker", "fakelive")


@pytest.mark.parametrize("name", ["gtt", "calendar", "options", "signals"])
def test_a_name_that_a_contract_module_has_is_refused(name):
    with pytest.raises(CommandError, match="is a module of the contract"):
        call_command("startbroker", name)
    assert not (startbroker.BROKERS_DIR / name).exists()
