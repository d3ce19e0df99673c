from brokers.zerodha.testing import fake_kite, kite_market, zerodha_contract  # noqa: F401
