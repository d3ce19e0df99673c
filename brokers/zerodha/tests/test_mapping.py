"""Zerodha's mapping covers every value of our vocabularies."""

from __future__ import annotations

from brokers.enums import Action, PriceType, Product

from .. import mapping


def test_every_side_order_type_and_product_has_a_code_at_the_broker():
    assert set(mapping.SIDES) == set(Action)
    assert set(mapping.ORDER_TYPES) == set(PriceType)
    assert set(mapping.PRODUCTS) == set(Product)
