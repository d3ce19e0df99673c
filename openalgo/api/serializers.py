"""Input serializers with the reference server's rules: unknown fields are errors, and
field messages use its wording (spec §2.5, §2.8)."""

from __future__ import annotations

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
