"""Every broker listed in settings.BROKERS joins the contract suite through the
``<name>_contract`` fixture of its testing module (brokers/<name>/testing.py)."""

from __future__ import annotations

import importlib

from django.conf import settings

for _name in settings.BROKERS:
    _testing = importlib.import_module(f"brokers.{_name}.testing")
    globals()[f"{_name}_contract"] = getattr(_testing, f"{_name}_contract")
