"""Upstox's own tests use the fake exchange of brokers/upstox/testing.py."""

from brokers.upstox.testing import upstox_contract, upstox_exchange, upstox_market  # noqa: F401
