from django.apps import AppConfig


class UpstoxConfig(AppConfig):
    """Upstox behind the broker contract. Installed when settings.BROKERS lists "upstox"."""

    name = "brokers.upstox"
    label = "upstox"
    verbose_name = "Upstox"

    def ready(self) -> None:
        from brokers import registry
        from brokers.streaming import FeedSpec

        from .adapter import NAME, UpstoxAdapter
        from .login import UpstoxLogin
        from .stream import UpstoxStream
        from .updates import UpstoxOrderStream

        registry.register(NAME, UpstoxAdapter, login=UpstoxLogin(), feed=FeedSpec(stream=UpstoxStream),
                          order_stream=UpstoxOrderStream)
