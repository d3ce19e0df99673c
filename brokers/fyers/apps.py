from django.apps import AppConfig


class FyersConfig(AppConfig):
    """Fyers (API v3) behind the broker contract. Installed when settings.BROKERS lists "fyers"."""

    name = "brokers.fyers"
    label = "fyers"
    verbose_name = "Fyers"

    def ready(self) -> None:
        from brokers import registry
        from brokers.streaming import FeedSpec

        from .adapter import NAME, FyersAdapter
        from .login import FyersLogin
        from .order_socket import FyersOrderSocket
        from .stream import fyers_stream

        registry.register(NAME, FyersAdapter, login=FyersLogin(), feed=FeedSpec(stream=fyers_stream),
                          order_stream=FyersOrderSocket)
