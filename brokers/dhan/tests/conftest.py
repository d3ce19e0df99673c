"""Dhan's own tests: its fake exchange (brokers/dhan/testing.py) as fixtures."""

from brokers.dhan.testing import dhan_exchange, dhan_market  # noqa: F401
