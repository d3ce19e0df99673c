"""The broker contract suite: every registered adapter must pass it. A broker package
provides a ``<name>_contract`` fixture (see brokers/sandbox/testing.py, and
brokers/fakelive/testing.py for a live broker served by respx) that sets up its world and
says which symbol is liquid there. What a broker declares it lacks (its capabilities) is
skipped; everything else must hold."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from brokers import registry
from brokers.base import (
    BrokerAdapter,
    BrokerError,
    BrokerOrder,
    Candle,
    Capabilities,
    CapabilityMissing,
    Depth,
    Funds,
    InstrumentRow,
    MarginLeg,
    ModifyRequest,
    OrderRequest,
    PlacedOrder,
    Quote,
    SymbolNotFound,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product

# An empty registry must fail the suite, not skip it: it would mean no adapter is checked.
NOTHING_REGISTERED = "<no broker registered>"


@pytest.fixture(params=registry.registered() or [NOTHING_REGISTERED])
def env(request):
    if request.param == NOTHING_REGISTERED:
        pytest.fail("the broker registry is empty: the contract suite checks nothing")
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


def test_the_registry_holds_the_sandbox_and_every_broker_the_settings_list():
    from django.conf import settings

    assert {registry.SANDBOX, *settings.BROKERS} <= set(registry.registered())


def test_an_order_is_found_by_its_id(adapter, env):
    if not adapter.capabilities.order_lookup:
        pytest.skip("broker declares no single-order lookup")
    placed = adapter.place_order(_order(env))
    row = adapter.order(placed.orderid)
    assert isinstance(row, BrokerOrder) and row.orderid == placed.orderid and row.symbol == env.liquid[0]


def test_a_filled_order_shows_in_the_trade_book(adapter, env):
    placed = adapter.place_order(_order(env))
    assert placed.orderid in {trade.orderid for trade in adapter.trade_book()}


def test_depth_has_no_more_levels_than_declared(adapter, env):
    symbol, exchange = env.liquid
    depth = adapter.depth(symbol, Exchange(exchange))
    assert isinstance(depth, Depth) and depth.bids and depth.asks
    assert max(len(depth.bids), len(depth.asks)) <= adapter.capabilities.depth_levels
    assert depth.bids[0].price < depth.asks[0].price


def test_history_answers_daily_bars_or_the_first_declared_interval_with_candles(adapter, env):
    symbol, exchange = env.liquid
    intervals = adapter.capabilities.intervals
    interval = "D" if "D" in intervals else intervals[0]
    end = date(2026, 11, 27)
    bars = adapter.history(symbol, Exchange(exchange), interval, end - timedelta(days=3), end)
    assert bars and all(isinstance(bar, Candle) for bar in bars)


def test_the_margin_calculator_answers_or_is_declared_missing(adapter, env):
    symbol, exchange = env.liquid
    leg = MarginLeg(symbol=symbol, exchange=Exchange(exchange), action=Action.BUY, product=Product.MIS,
                    pricetype=PriceType.MARKET, quantity=Decimal(env.lot))
    if not adapter.capabilities.margin_calculator:
        with pytest.raises(CapabilityMissing):
            adapter.margin([leg])
        return
    assert adapter.margin([leg]).total_margin_required >= 0


def test_the_master_contract_lists_the_liquid_symbol(adapter, env):
    symbol, exchange = env.liquid
    rows = [row for row in adapter.master_contract() if isinstance(row, InstrumentRow)]
    assert any(row.symbol == symbol and row.exchange == exchange for row in rows)
