"""Input schemas of the order endpoints (spec §5, §6.1-6.2), with the reference's
defaults, case rules and messages. Validated data is typed: enums and Decimals."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from brokers.enums import Action, Exchange, PriceType, Product
from core.api.serializers import (
    ApiKeyField,
    EnumField,
    IntegerField,
    NumberField,
    StrictSerializer,
    StringField,
)

QUANTITY_POSITIVE = "Quantity must be a positive number."
PRICE_NON_NEGATIVE = "Price must be a non-negative number."
TRIGGER_NON_NEGATIVE = "Trigger price must be a non-negative number."
DISCLOSED_NON_NEGATIVE = "Disclosed quantity must be a non-negative integer."


def whole_quantity(value: Decimal, exchange: Exchange | None) -> Decimal | int:
    """Quantities are integral everywhere but CRYPTO ("100.0" from TradingView is 100)."""
    if exchange == Exchange.CRYPTO:
        return value
    if value != value.to_integral_value():
        shown = float(value)
        raise serializers.ValidationError(
            {"quantity": [f"Fractional quantity ({shown}) is not allowed for non-crypto exchanges."]}
        )
    return int(value)


class LegFields(StrictSerializer):
    """What one order needs besides its owner: the basket item shape."""

    exchange = EnumField(Exchange)
    symbol = StringField(min_length=1)
    action = EnumField(Action, fold_case=True)
    quantity = NumberField(min_value=0, exclusive=True, min_message=QUANTITY_POSITIVE)
    pricetype = EnumField(PriceType, default=PriceType.MARKET)
    product = EnumField(Product, default=Product.MIS)
    price = NumberField(min_value=0, min_message=PRICE_NON_NEGATIVE, default=Decimal(0))
    trigger_price = NumberField(min_value=0, min_message=TRIGGER_NON_NEGATIVE, default=Decimal(0))
    disclosed_quantity = IntegerField(min_value=0, min_message=DISCLOSED_NON_NEGATIVE, default=0)

    def validate(self, attrs: dict) -> dict:
        attrs["quantity"] = whole_quantity(attrs["quantity"], attrs.get("exchange"))
        return attrs


class PlaceOrderInput(LegFields):
    apikey = ApiKeyField()
    strategy = StringField()
    # Ours, optional: a retry with the same id returns the first answer (orders/idempotency.py).
    client_order_id = StringField(required=False, min_length=1, max_length=128)


class SmartOrderInput(PlaceOrderInput):
    quantity = NumberField(min_value=0, min_message=QUANTITY_POSITIVE)  # 0 allowed: exit by position_size
    position_size = NumberField()

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        try:
            attrs["position_size"] = whole_quantity(attrs["position_size"], attrs.get("exchange"))
        except serializers.ValidationError:
            raise serializers.ValidationError(
                {"position_size": [f"Fractional position size ({float(attrs['position_size'])}) is not allowed "
                                   "for non-crypto exchanges."]}
            )
        return attrs


class BasketOrderInput(StrictSerializer):
    apikey = ApiKeyField()
    strategy = StringField()
    client_order_id = StringField(required=False, min_length=1, max_length=128)
    orders = serializers.ListField(child=LegFields(), allow_empty=True,
                                   error_messages={"required": "Missing data for required field.",
                                                   "null": "Field may not be null.",
                                                   "not_a_list": "Not a valid list."})


class SplitOrderInput(PlaceOrderInput):
    quantity = NumberField(min_value=0, exclusive=True, min_message="Total quantity must be a positive number.")
    splitsize = IntegerField(min_value=1, min_message="Split size must be a positive integer.")


class ModifyOrderInput(PlaceOrderInput):
    """Every field is required on modify; the SDK always sends them all."""

    client_order_id = None
    orderid = StringField()
    pricetype = EnumField(PriceType)
    product = EnumField(Product)
    price = NumberField(min_value=0, min_message=PRICE_NON_NEGATIVE)
    trigger_price = NumberField(min_value=0, min_message=TRIGGER_NON_NEGATIVE)
    disclosed_quantity = IntegerField(min_value=0, min_message=DISCLOSED_NON_NEGATIVE)


class CancelOrderInput(StrictSerializer):
    apikey = ApiKeyField()
    strategy = StringField()
    orderid = StringField(min_length=1, error_messages={"blank": "Order ID is missing"})


class AccountWideInput(StrictSerializer):
    """cancelallorder and closeposition: the whole account, whatever the strategy."""

    apikey = ApiKeyField()
    strategy = StringField()


class OrderStatusInput(StrictSerializer):
    apikey = ApiKeyField()
    strategy = StringField()
    orderid = StringField(min_length=1)


class OpenPositionInput(StrictSerializer):
    apikey = ApiKeyField()
    strategy = StringField()
    symbol = StringField(min_length=1)
    exchange = StringField(min_length=1)  # the reference does not enum-check it here
    product = EnumField(Product)


class ApiKeyOnlyInput(StrictSerializer):
    """orderbook, tradebook, positionbook, holdings, funds, analyzer: just the key."""

    apikey = ApiKeyField()
