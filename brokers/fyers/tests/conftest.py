"""Fyers' fixtures for its own tests (the contract suite takes ``fyers_contract`` itself)."""

from brokers.fyers.testing import fyers_exchange, fyers_market  # noqa: F401  (fixtures)
