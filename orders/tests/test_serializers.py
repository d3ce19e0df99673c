"""Order input validation per spec §2.8 and §5: types, defaults, case rules, messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brokers.enums import Action, Exchange, PriceType, Product
from core.api.errors import ApiValidationError, ErrorStyle, _plain, validation_body
from orders import serializers as s

BASE = {"apikey": "k", "strategy": "Python", "symbol": "SBIN", "action": "BUY", "exchange": "NSE", "quantity": "1"}


def errors(serializer_class, body):
    serializer = serializer_class(data=body)
    assert not serializer.is_valid()
    return _plain(serializer.errors)


def valid(serializer_class, body):
    serializer = serializer_class(data=body)
    assert serializer.is_valid(), serializer.errors
    return serializer.validated_data


def test_a_minimal_order_gets_the_documented_defaults():
    data = valid(s.PlaceOrderInput, BASE)
    assert data["pricetype"] is PriceType.MARKET and data["product"] is Product.MIS
    assert data["price"] == 0 and data["trigger_price"] == 0 and data["disclosed_quantity"] == 0
    assert data["quantity"] == 1 and isinstance(data["quantity"], int)
    assert data["action"] is Action.BUY and data["exchange"] is Exchange.NSE


def test_the_sdks_stringified_numbers_are_accepted():
    data = valid(s.PlaceOrderInput, {**BASE, "pricetype": "LIMIT", "price": "780.5", "trigger_price": "0",
                                     "disclosed_quantity": "0", "quantity": "1e3"})
    assert data["price"] == Decimal("780.5") and data["quantity"] == 1000


@pytest.mark.parametrize("action", ["buy", "Buy", "SELL", "sell"])
def test_action_is_case_insensitive(action):
    assert valid(s.PlaceOrderInput, {**BASE, "action": action})["action"] == action.upper()


@pytest.mark.parametrize("field, value", [("exchange", "nse"), ("product", "mis"), ("pricetype", "limit")])
def test_exchange_product_and_pricetype_are_case_sensitive(field, value):
    assert field in errors(s.PlaceOrderInput, {**BASE, field: value})


def test_an_unknown_exchange_lists_the_allowed_ones():
    message = errors(s.PlaceOrderInput, {**BASE, "exchange": "LSE"})["exchange"][0]
    assert message.startswith("Must be one of: NSE, BSE, NFO") and message.endswith("CRYPTO.")


@pytest.mark.parametrize("quantity", ["100.0", 100.0, 100, "100"])
def test_whole_quantities_written_as_decimals_become_integers(quantity):
    assert valid(s.PlaceOrderInput, {**BASE, "quantity": quantity})["quantity"] == 100


def test_a_fractional_quantity_is_refused_outside_crypto():
    assert errors(s.PlaceOrderInput, {**BASE, "quantity": "10.5"}) == {
        "quantity": ["Fractional quantity (10.5) is not allowed for non-crypto exchanges."]
    }


def test_a_fractional_quantity_is_fine_on_crypto():
    assert valid(s.PlaceOrderInput, {**BASE, "exchange": "CRYPTO", "quantity": "0.25"})["quantity"] == Decimal("0.25")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("quantity", "0", "Quantity must be a positive number."),
        ("quantity", "-5", "Quantity must be a positive number."),
        ("quantity", "ten", "Not a valid number."),
        ("quantity", True, "Not a valid number."),
        ("price", "-1", "Price must be a non-negative number."),
        ("trigger_price", -0.05, "Trigger price must be a non-negative number."),
        ("disclosed_quantity", "-1", "Disclosed quantity must be a non-negative integer."),
        ("disclosed_quantity", "7.0", "Not a valid integer."),
        ("price", None, "Field may not be null."),
        ("symbol", 123, "Not a valid string."),
        ("price", "NaN", "Not a valid number."),
        ("price", "Infinity", "Not a valid number."),
    ],
)
def test_each_bad_value_gets_the_reference_message(field, value, message):
    assert errors(s.PlaceOrderInput, {**BASE, field: value}) == {field: [message]}


@pytest.mark.parametrize("missing", ["apikey", "strategy", "symbol", "action", "exchange", "quantity"])
def test_each_required_field_is_named_when_missing(missing):
    body = {k: v for k, v in BASE.items() if k != missing}
    assert errors(s.PlaceOrderInput, body) == {missing: ["Missing data for required field."]}


def test_the_sdks_advertised_target_and_stoploss_kwargs_are_refused_as_unknown():
    assert errors(s.PlaceOrderInput, {**BASE, "target": "5", "stoploss": "2"}) == {
        "target": ["Unknown field."], "stoploss": ["Unknown field."]}


def test_a_typo_like_price_type_is_refused_instead_of_becoming_a_market_order():
    got = errors(s.PlaceOrderInput, {**BASE, "price_type": "LIMIT", "price": "1"})
    assert got == {"price_type": ["Unknown field."]}


def test_unknown_and_invalid_fields_are_reported_together():
    assert errors(s.PlaceOrderInput, {**BASE, "quantity": "0", "foo": 1}) == {
        "quantity": ["Quantity must be a positive number."], "foo": ["Unknown field."]}


def test_v_a_errors_render_as_the_python_repr_of_the_mapping():
    exc = ApiValidationError({"quantity": ["Quantity must be a positive number."]}, ErrorStyle.REPR)
    assert validation_body(exc, {"mode": "analyze"}) == {
        "status": "error", "message": "{'quantity': ['Quantity must be a positive number.']}", "mode": "analyze"}


def test_smart_orders_allow_zero_quantity_and_a_signed_position_size():
    data = valid(s.SmartOrderInput, {**BASE, "quantity": "0", "position_size": "-100"})
    assert data["quantity"] == 0 and data["position_size"] == -100


def test_smart_orders_require_position_size():
    assert errors(s.SmartOrderInput, BASE) == {"position_size": ["Missing data for required field."]}


def test_split_orders_need_a_positive_integer_splitsize():
    assert errors(s.SplitOrderInput, {**BASE, "splitsize": "0"}) == {
        "splitsize": ["Split size must be a positive integer."]}
    assert errors(s.SplitOrderInput, {**BASE, "quantity": "0", "splitsize": "5"}) == {
        "quantity": ["Total quantity must be a positive number."]}


def test_modify_requires_every_field():
    got = errors(s.ModifyOrderInput, {**BASE, "orderid": "1"})
    assert set(got) == {"pricetype", "product", "price", "trigger_price", "disclosed_quantity"}


def test_cancel_with_an_empty_orderid_says_it_is_missing():
    assert errors(s.CancelOrderInput, {"apikey": "k", "strategy": "x", "orderid": ""}) == {
        "orderid": ["Order ID is missing"]}


def test_basket_items_follow_the_order_rules_and_refuse_apikey_inside():
    got = errors(s.BasketOrderInput, {"apikey": "k", "strategy": "s", "orders": [
        {"symbol": "SBIN", "exchange": "NSE", "action": "buy", "quantity": "1"},
        {"symbol": "INFY", "exchange": "NSE", "action": "SELL", "quantity": "0", "apikey": "k"},
    ]})
    assert got == {"orders": {"1": {"quantity": ["Quantity must be a positive number."], "apikey": ["Unknown field."]}}}


def test_an_empty_basket_is_valid():
    assert valid(s.BasketOrderInput, {"apikey": "k", "strategy": "s", "orders": []})["orders"] == []


@given(st.integers(min_value=1, max_value=10**9))
def test_any_positive_integer_quantity_round_trips_as_number_or_string(quantity):
    assert valid(s.PlaceOrderInput, {**BASE, "quantity": quantity})["quantity"] == quantity
    assert valid(s.PlaceOrderInput, {**BASE, "quantity": str(quantity)})["quantity"] == quantity


@given(st.one_of(st.text(max_size=8), st.floats(allow_nan=True), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.none(), st.booleans()))
def test_no_value_of_any_type_makes_validation_crash(value):
    for field in ("quantity", "price", "exchange", "action", "disclosed_quantity", "symbol"):
        serializer = s.PlaceOrderInput(data={**BASE, field: value})
        serializer.is_valid()  # must never raise
