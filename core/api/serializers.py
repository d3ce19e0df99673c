"""Input serializers with the reference server's rules: unknown fields are errors, and
field messages use its wording (spec §2.5, §2.8)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from rest_framework import serializers

REQUIRED = "Missing data for required field."
NULL = "Field may not be null."
UNKNOWN = "Unknown field."

_COMMON = {"required": REQUIRED, "null": NULL}


class StrictSerializer(serializers.Serializer):
    """Rejects unknown keys, so a typo such as ``price_type`` cannot go unnoticed."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError({"_schema": ["Invalid input type."]})
        unknown = {key: [UNKNOWN] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            exc.detail.update(unknown)
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StringField(serializers.CharField):
    """A JSON string (numbers are not coerced), optionally bounded in length."""

    default_error_messages = {**_COMMON, "invalid": "Not a valid string.", "blank": REQUIRED}

    def __init__(self, *, min_length: int = 0, max_length: int | None = None, **kwargs) -> None:
        kwargs.setdefault("allow_blank", min_length == 0)
        kwargs.setdefault("trim_whitespace", False)
        if max_length is not None:
            bounds = f"Length must be between {min_length} and {max_length}."
            kwargs["error_messages"] = {"max_length": bounds, "min_length": bounds, **kwargs.get("error_messages", {})}
        super().__init__(min_length=min_length or None, max_length=max_length, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ApiKeyField(StringField):
    """Any 1..256-character string; whether it is a real key is authentication's job."""

    def __init__(self, **kwargs) -> None:
        super().__init__(min_length=1, max_length=256, **kwargs)


def _one_of(choices) -> str:
    return "Must be one of: " + ", ".join(str(c) for c in choices) + "."


class EnumField(serializers.Field):
    """A string from a fixed list. Case-sensitive by default (exchanges, products, price
    types are upper-case in the contract); ``fold_case`` accepts ``buy`` for ``BUY``."""

    default_error_messages = {**_COMMON, "invalid": "Not a valid string.", "choice": "{choices}"}

    def __init__(self, enum, *, fold_case: bool = False, choices=None, **kwargs) -> None:
        self.enum = enum
        self.values = [member.value for member in (choices or enum)]
        self.fold_case = fold_case
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        value = data.upper() if self.fold_case else data
        if value not in self.values:
            self.fail("choice", choices=_one_of(self.values))
        return self.enum(value)

    def to_representation(self, value):
        return str(value)


# Bounds of any number the API takes: a quantity or price beyond them is no trade, and the
# ledger's columns (24 digits with 8 decimals; 20 with 4; a 32-bit integer) must hold it.
MAX_NUMBER = Decimal(10) ** 12
MAX_INTEGER = 2**31 - 1
OUT_OF_RANGE = "Number out of range."


def parse_number(data) -> Decimal | None:
    """A JSON number or numeric string ("16.5", "1e3") as a finite Decimal, else None."""
    if isinstance(data, bool) or not isinstance(data, (int, float, str)):
        return None
    try:
        value = Decimal(data.strip()) if isinstance(data, str) else Decimal(str(data))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


class NumberField(serializers.Field):
    """A number sent as JSON number or numeric string (the SDK stringifies everything)."""

    default_error_messages = {**_COMMON, "invalid": "Not a valid number.", "min_value": "{message}",
                              "range": OUT_OF_RANGE}

    def __init__(self, *, min_value=None, min_message: str = "", exclusive: bool = False, **kwargs) -> None:
        self.min_value = None if min_value is None else Decimal(min_value)
        self.min_message = min_message
        self.exclusive = exclusive
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> Decimal:
        value = parse_number(data)
        if value is None:
            self.fail("invalid")
        if self.min_value is not None and (
            value < self.min_value or (self.exclusive and value == self.min_value)
        ):
            self.fail("min_value", message=self.min_message)
        if abs(value) >= MAX_NUMBER:
            self.fail("range")
        return value

    def to_representation(self, value):
        return float(value)


class IntegerField(serializers.Field):
    """An integer number or integer string; "75.0" is not an integer (spec §2.8)."""

    default_error_messages = {**_COMMON, "invalid": "Not a valid integer.", "min_value": "{message}",
                              "range": OUT_OF_RANGE}

    def __init__(self, *, min_value: int | None = None, min_message: str = "", **kwargs) -> None:
        self.min_value = min_value
        self.min_message = min_message
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            value = data
        elif isinstance(data, float) and data.is_integer():
            value = int(data)
        elif isinstance(data, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", data):  # isdigit() takes "³"; int() not
            value = int(data.strip())
        else:
            self.fail("invalid")
        if self.min_value is not None and value < self.min_value:
            self.fail("min_value", message=self.min_message)
        if abs(value) > MAX_INTEGER:
            self.fail("range")
        return value

    def to_representation(self, value):
        return int(value)


_TRUE = {"true", "1", "yes", "y", "on", "t"}
_FALSE = {"false", "0", "no", "n", "off", "f"}


class LenientBooleanField(serializers.Field):
    """true/false, "true"/"false", 1/0, "yes"/"no" and friends."""

    default_error_messages = {**_COMMON, "invalid": "Not a valid boolean."}

    def to_internal_value(self, data) -> bool:
        if isinstance(data, bool):
            return data
        if isinstance(data, int) and data in (0, 1):
            return bool(data)
        if isinstance(data, str):
            lowered = data.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
        self.fail("invalid")

    def to_representation(self, value):
        return bool(value)
