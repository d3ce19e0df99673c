"""OpenAPI for /api/v1: each view's input serializer is its request body; responses are
the view's declared `response_serializer` plus the contract's error envelope."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from core.api.serializers import MAX_INTEGER, MAX_NUMBER

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


# Sent with a 409 of an idempotent order request: when its first answer may be there.
RETRY_AFTER = OpenApiParameter("Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[409],
                               description="Seconds to wait before retrying with the same key")


class ContractSchema(AutoSchema):
    def map_parsers(self):
        return ["application/json"]  # any type is parsed as JSON; document the one to send

    def get_description(self):
        return (type(self.view).__doc__ or "").strip()

    def get_request_serializer(self):
        return getattr(self.view, "input_serializer", None) or super().get_request_serializer()

    def get_response_serializers(self):
        view = self.view
        success = getattr(view, "response_serializer", None) or SuccessEnvelope
        errors = {
            400: "Validation or business error",
            403: "Invalid openalgo apikey, or no broker session",
            getattr(view, "invalid_key_status", 403): "Invalid openalgo apikey",
            429: "Rate limit exceeded",
            500: "Unexpected or broker error",
            **getattr(view, "error_statuses", {}),
        }
        if getattr(view, "idempotent", False):
            errors[409] = ("The first request with this Idempotency-Key or client_order_id has no answer yet (still "
                           "running, or interrupted and being reconciled): retry after Retry-After seconds")
            errors[422] = "Idempotency-Key or client_order_id reused for a different request"
        responses = {(200, "application/json"): success}
        responses.update({(code, "application/json"): OpenApiResponse(ErrorEnvelope, description=text)
                          for code, text in sorted(errors.items())})
        for code, media_types in getattr(view, "other_media_types", {}).items():
            for media_type in media_types:
                responses[code, media_type] = OpenApiResponse(OpenApiTypes.STR, description=errors.get(code, ""))
        return responses

    def get_override_parameters(self):
        parameters = [*super().get_override_parameters(), *getattr(self.view, "query_parameters", ())]
        if getattr(self.view, "idempotent", False):
            parameters.append(RETRY_AFTER)
        return parameters

    def get_tags(self):
        return [getattr(self.view, "schema_tag", "api")]

    def get_auth(self):
        # The header is one way to send the key; the contract's way is `apikey` in the body,
        # which OpenAPI cannot name as a security scheme. So the header is optional ({}).
        schemes = super().get_auth()
        return [*schemes, {}] if schemes and {} not in schemes else schemes


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apikey"

    def get_security_definition(self, auto_schema):
        # The SDK sends `apikey` in the JSON body (or query); X-API-KEY is the fallback.
        return {"type": "apiKey", "in": "header", "name": "X-API-KEY"}


class EnumFieldSchema(OpenApiSerializerFieldExtension):
    match_subclasses = True
    target_class = "core.api.serializers.EnumField"

    def map_serializer_field(self, auto_schema, direction):
        values = list(self.target.values)
        if self.target.fold_case:
            values += [v.lower() for v in values if v.lower() != v]
        return {"type": "string", "enum": values}


class NumberFieldSchema(OpenApiSerializerFieldExtension):
    match_subclasses = True
    target_class = "core.api.serializers.NumberField"

    def map_serializer_field(self, auto_schema, direction):
        bound = float(MAX_NUMBER)
        number = {"type": "number", "minimum": -bound, "maximum": bound, "exclusiveMinimum": True,
                  "exclusiveMaximum": True}
        return {"oneOf": [number, {"type": "string", "pattern": r"^\s*[-+]?[0-9.eE+-]+\s*$"}],
                "description": "A number, or a numeric string as the SDK sends it (magnitude below 1e12)"}


class IntegerFieldSchema(OpenApiSerializerFieldExtension):
    match_subclasses = True
    target_class = "core.api.serializers.IntegerField"

    def map_serializer_field(self, auto_schema, direction):
        return {"oneOf": [{"type": "integer", "minimum": -MAX_INTEGER, "maximum": MAX_INTEGER},
                          {"type": "string", "pattern": r"^\s*[-+]?[0-9]+\s*$"}]}


class BooleanFieldSchema(OpenApiSerializerFieldExtension):
    match_subclasses = True
    target_class = "core.api.serializers.LenientBooleanField"

    def map_serializer_field(self, auto_schema, direction):
        return {"oneOf": [{"type": "boolean"}, {"type": "string"}, {"type": "integer", "enum": [0, 1]}]}
