"""OpenAPI for /api/v1: each view's input serializer is its request body; responses are
the view's declared `response_serializer` plus the contract's error envelope."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorEnvelope = inline_serializer(
    name="ErrorEnvelope",
    fields={
        "status": serializers.ChoiceField(choices=["error"]),
        "message": serializers.JSONField(help_text="Text, or field -> messages (per endpoint style)"),
    },
)


SuccessEnvelope = inline_serializer(
    name="SuccessEnvelope",
    fields={
        "status": serializers.ChoiceField(choices=["success"]),
        "mode": serializers.CharField(required=False, help_text='"analyze" in analyze mode; absent when live'),
    },
)


class ContractSchema(AutoSchema):
    def map_parsers(self):
        return ["application/json"]  # any type is parsed as JSON; document the one to send

    def get_description(self):
        return (type(self.view).__doc__ or "").strip()

    def get_request_serializer(self):
        return getattr(self.view, "input_serializer", None) or super().get_request_serializer()

    def get_response_serializers(self):
        success = getattr(self.view, "response_serializer", None) or SuccessEnvelope
        return {
            "200": success,
            "400": OpenApiResponse(ErrorEnvelope, description="Validation or business error"),
            "403": OpenApiResponse(ErrorEnvelope, description="Invalid openalgo apikey"),
            "429": OpenApiResponse(ErrorEnvelope, description="Rate limit exceeded"),
            "500": OpenApiResponse(ErrorEnvelope, description="Unexpected or broker error"),
        }

    def get_tags(self):
        return [getattr(self.view, "schema_tag", "api")]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apikey"

    def get_security_definition(self, auto_schema):
        # The SDK sends `apikey` in the JSON body (or query); X-API-KEY is the fallback.
        return {"type": "apiKey", "in": "header", "name": "X-API-KEY"}


class EnumFieldSchema(OpenApiSerializerFieldExtension):
    match_subclasses = True
    target_class = "openalgo.api.serializers.EnumField"

    def map_serializer_field(self, auto_schema, direction):
        values = list(self.target.values)
        if self.target.fold_case:
            values += [v.lower() for v in values if v.lower() != v]
        return {"type": "string", "enum": values}


class NumberFieldSchema(OpenApiSerializerFieldExtension):
    match_subclasses = True
    target_class = "openalgo.api.serializers.NumberField"

    def map_serializer_field(self, auto_schema, direction):
        return {"oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*[-+]?[0-9.eE+-]+\s*$"}],
                "description": "A number, or a numeric string as the SDK sends it"}


class IntegerFieldSchema(OpenApiSerializerFieldExtension):
    match_subclasses = True
    target_class = "openalgo.api.serializers.IntegerField"

    def map_serializer_field(self, auto_schema, direction):
        return {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": r"^\s*[-+]?[0-9]+\s*$"}]}


class BooleanFieldSchema(OpenApiSerializerFieldExtension):
    match_subclasses = True
    target_class = "openalgo.api.serializers.LenientBooleanField"

    def map_serializer_field(self, auto_schema, direction):
        return {"oneOf": [{"type": "boolean"}, {"type": "string"}, {"type": "integer", "enum": [0, 1]}]}
