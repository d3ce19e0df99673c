"""API views of the accounts surface: ping (proves key auth and the broker session)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response

from accounts.brokers import active_broker_name
from core.api.serializers import ApiKeyField, StrictSerializer
from core.api.views import OpenAlgoView


class PingView(OpenAlgoView):
    """Authenticated liveness: answers pong and the broker now serving the key's user."""

    endpoint = "ping"

    class PingInput(StrictSerializer):
        apikey = ApiKeyField()

    class PingOutput(serializers.Serializer):
        class PingData(serializers.Serializer):
            message = serializers.CharField()
            broker = serializers.CharField()

        status = serializers.CharField()
        data = PingData()

    input_serializer = PingInput
    response_serializer = PingOutput
    schema_tag = "utilities"

    def handle(self, request, user, data) -> Response:
        return Response({"status": "success", "data": {"message": "pong", "broker": active_broker_name(user)}})
