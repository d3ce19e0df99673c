from django.apps import AppConfig


class AngelConfig(AppConfig):
    """Angel One (SmartAPI) behind the broker contract. Installed when settings.BROKERS lists "angel"."""

    name = "brokers.angel"
    label = "angel"
    verbose_name = "Angel One"

    def ready(self) -> None:
        from brokers import registry
        from brokers.streaming import FeedSpec

        from .adapter import NAME, AngelAdapter
        from .login import AngelLogin
        from .order_updates import order_stream
        from .stream import market_stream

        registry.register(NAME, AngelAdapter, login=AngelLogin(), feed=FeedSpec(stream=market_stream),
                          order_stream=order_stream)
