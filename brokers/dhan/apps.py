from django.apps import AppConfig


class DhanConfig(AppConfig):
    """Dhan (DhanHQ v2) behind the broker contract. Installed when settings.BROKERS lists "dhan"."""

    name = "brokers.dhan"
    label = "dhan"
    verbose_name = "Dhan"

    def ready(self) -> None:
        from brokers import registry
        from brokers.streaming import FeedSpec

        from .adapter import DhanAdapter
        from .login import DhanLogin
        from .order_updates import DhanOrderStream
        from .session import NAME
        from .stream import dhan_stream

        registry.register(NAME, DhanAdapter, login=DhanLogin(), feed=FeedSpec(stream=dhan_stream),
                          order_stream=DhanOrderStream)
