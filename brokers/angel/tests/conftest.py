"""Angel One's own fixtures for its tests (the shared suite takes angel_contract alone)."""

from brokers.angel.testing import angel_exchange, angel_market  # noqa: F401
