from django.apps import AppConfig


class ZerodhaConfig(AppConfig):
    """Zerodha (Kite Connect v3) behind the broker contract. Installed when settings.BROKERS lists "zerodha"."""

    name = "brokers.zerodha"
    label = "zerodha"
    verbose_name = "Zerodha"

    def ready(self) -> None:
        from brokers import registry
        from brokers.streaming import FeedSpec

        from .adapter import ZerodhaAdapter
        from .login import ZerodhaLogin
        from .postback import ZerodhaPostback
        from .stream import zerodha_stream
        from .symbols import NAME

        registry.register(NAME, ZerodhaAdapter, login=ZerodhaLogin(), feed=FeedSpec(stream=zerodha_stream),
                          postback=ZerodhaPostback())
