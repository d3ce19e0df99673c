"""The broker contract suite: every registered adapter must pass it. A broker package
provides a ``<name>_contract`` fixture (see brokers/sandbox/testing.py) that sets up its
world (respx-mocked HTTP for live brokers) and says which symbol is liquid there."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers import registry
from brokers.base import (
    BrokerAdapter,
    BrokerError,
    BrokerOrder,
    Capabilities,
    Funds,
    ModifyRequest,
    OrderRequest,
    PlacedOrder,
    Quote,
    SymbolNotFound,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product


@pytest.fixture(params=registry.registered())
def env(request):
    fixture = f"{request.param}_contract"
    try:
        return request.getfixturevalue(fixture)
    except pytest.FixtureLookupError:
        pytest.fail(f"broker {request.param!r} has no {fixture} fixture: it cannot join the contract suite")


@pytest.fixture
def adapter(env, user):
    return env.adapter(user)


def _order(env, **change) -> OrderRequest:
    symbol, exchange = env.liquid
    fields = {"symbol": symbol, "exchange": Exchange(exchange), "action": Action.BUY, "quantity": Decimal(env.lot),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "strategy": "Contract"}
    fields.update(change)
    return OrderRequest(**fields)


def test_the_adapter_implements_the_protocol_and_declares_capabilities(adapter):
    assert isinstance(adapter, BrokerAdapter)
    assert isinstance(adapter.capabilities, Capabilities)
    assert adapter.capabilities.exchanges
    assert adapter.name in registry.registered()


def test_a_market_order_is_accepted_and_shows_in_the_order_book(adapter, env):
    placed = adapter.place_order(_order(env))
    assert isinstance(placed, PlacedOrder) and placed.orderid
    book = adapter.order_book()
    assert all(isinstance(row, BrokerOrder) for row in book)
    assert placed.orderid in {row.orderid for row in book}


def test_a_resting_limit_can_be_modified_then_cancelled(adapter, env):
    if not adapter.capabilities.modify:
        pytest.skip("broker declares no modify")
    price = env.away_from_market("BUY")
    placed = adapter.place_order(_order(env, pricetype=PriceType.LIMIT, price=price))
    symbol, exchange = env.liquid
    adapter.modify_order(ModifyRequest(orderid=placed.orderid, symbol=symbol, exchange=Exchange(exchange),
                                       action=Action.BUY, product=Product.MIS, pricetype=PriceType.LIMIT,
                                       quantity=Decimal(env.lot) * 2, price=price, trigger_price=Decimal(0)))
    adapter.cancel_order(placed.orderid)
    row = next(r for r in adapter.order_book() if r.orderid == placed.orderid)
    assert row.status == OrderStatus.CANCELLED and row.quantity == Decimal(env.lot) * 2


def test_cancelling_an_unknown_order_raises_a_classified_error(adapter):
    with pytest.raises(BrokerError) as caught:
        adapter.cancel_order("00000000000000")
    assert 400 <= caught.value.http_status < 500


def test_positions_and_funds_use_the_domain_types(adapter, env):
    adapter.place_order(_order(env))
    symbol, exchange = env.liquid
    position = next(p for p in adapter.positions() if p.symbol == symbol and p.exchange == exchange)
    assert position.quantity == env.lot and isinstance(position.average_price, Decimal)
    funds = adapter.funds()
    assert isinstance(funds, Funds) and isinstance(funds.availablecash, Decimal)


def test_quotes_for_known_and_unknown_symbols(adapter, env):
    symbol, exchange = env.liquid
    quote = adapter.quote(symbol, Exchange(exchange))
    assert isinstance(quote, Quote) and quote.ltp > 0 and quote.bid <= quote.ask
    with pytest.raises(SymbolNotFound):
        adapter.quote("NO_SUCH_SYMBOL", Exchange(exchange))
