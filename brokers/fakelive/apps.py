from django.apps import AppConfig


class FakeLiveConfig(AppConfig):
    """A broker that exists only as an HTTP API served by its tests (brokers/fakelive/testing.py):
    the reference a live broker package is written against. Listed in settings.BROKERS in tests."""

    name = "brokers.fakelive"
    label = "fakelive"
    verbose_name = "FakeLive (test broker)"

    def ready(self) -> None:
        from brokers import registry
        from brokers.fakelive.adapter import NAME, FakeLiveAdapter
        from brokers.fakelive.login import FakeLiveLogin
        from brokers.fakelive.postback import FakeLivePostback

        registry.register(NAME, FakeLiveAdapter, login=FakeLiveLogin(), postback=FakeLivePostback())
