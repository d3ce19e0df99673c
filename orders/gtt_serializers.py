"""Input schemas of the GTT endpoints (spec §5.9), with the reference's messages.

Unlike every other order endpoint these ignore unknown fields (the contract says so), and
``""`` stands for "not given" in the four trigger/leg prices."""

from __future__ import annotations

from datetime import datetime, time

from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers

from brokers.enums import Action, Exchange, PriceType, Product
from brokers.gtt import GTT_PRICETYPES, GTT_PRODUCTS, PRODUCT_ONLY_CNC_NRML, GttType, rule_errors
from core.api.serializers import ApiKeyField, EnumField, NumberField, StringField
from core.values import IST, ZERO
from orders.serializers import PRICE_NON_NEGATIVE, QUANTITY_POSITIVE, whole_quantity


class LenientSerializer(serializers.Serializer):
    """Unknown keys are dropped, not refused; a body that is not an object still is."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"_schema": ["Invalid input type."]})
        return super().to_internal_value(data)


class OptionalPriceField(NumberField):
    """A trigger or leg price that may be sent as ``""`` (read as ``blank``, 0 or null)."""

    def __init__(self, *, blank=None, **kwargs) -> None:
        self.blank = blank
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if data == "":
            return self.blank
        return super().to_internal_value(data)


class ExpiryField(StringField):
    """An ISO date or date-time; a date means its end, a time without zone is IST."""

    default_error_messages = {**StringField.default_error_messages, "date": "Not a valid datetime."}

    def to_internal_value(self, data) -> datetime | None:
        text = super().to_internal_value(data).strip()
        if not text:
            return None
        try:
            moment = parse_datetime(text)
            day = None if moment else parse_date(text)
        except ValueError:
            moment = day = None
        if day is not None:
            moment = datetime.combine(day, time(23, 59, 59))
        if moment is None:
            self.fail("date")
        return moment if moment.tzinfo else moment.replace(tzinfo=IST)


class PlaceGttInput(LenientSerializer):
    apikey = ApiKeyField()
    strategy = StringField()
    trigger_type = EnumField(GttType, fold_case=True, error_messages={"choice": "Must be 'SINGLE' or 'OCO'."})
    exchange = EnumField(Exchange)
    symbol = StringField(min_length=1)
    action = EnumField(Action, fold_case=True)
    product = EnumField(Product, choices=GTT_PRODUCTS, error_messages={"choice": PRODUCT_ONLY_CNC_NRML})
    quantity = NumberField(min_value=0, exclusive=True, min_message=QUANTITY_POSITIVE)
    pricetype = EnumField(PriceType, choices=GTT_PRICETYPES, default=PriceType.LIMIT)
    price = NumberField(min_value=0, min_message=PRICE_NON_NEGATIVE)
    triggerprice_sl = OptionalPriceField(blank=ZERO, min_value=0, min_message="triggerprice_sl must be non-negative.",
                                         default=ZERO)
    triggerprice_tg = OptionalPriceField(blank=ZERO, min_value=0, min_message="triggerprice_tg must be non-negative.",
                                         default=ZERO)
    stoploss = OptionalPriceField(allow_null=True, default=None)
    target = OptionalPriceField(allow_null=True, default=None)
    expires_at = ExpiryField(allow_null=True, default=None)

    def validate(self, attrs: dict) -> dict:
        attrs["quantity"] = whole_quantity(attrs["quantity"], attrs.get("exchange"))
        errors = rule_errors(attrs["trigger_type"], triggerprice_sl=attrs["triggerprice_sl"],
                             triggerprice_tg=attrs["triggerprice_tg"], stoploss=attrs["stoploss"],
                             target=attrs["target"])
        if errors:
            raise serializers.ValidationError(errors)
        if attrs["trigger_type"] == GttType.SINGLE:
            attrs["stoploss"] = attrs["target"] = None  # SINGLE has no legs of its own
        return attrs


class ModifyGttInput(PlaceGttInput):
    """The whole trigger again (a replacement, not a patch), and which one."""

    trigger_id = StringField(min_length=1)


class CancelGttInput(LenientSerializer):
    apikey = ApiKeyField()
    strategy = StringField()
    trigger_id = StringField(min_length=1)


class GttBookInput(LenientSerializer):
    apikey = ApiKeyField()

