from django.apps import AppConfig


class BrokersConfig(AppConfig):
    """The broker contract, the instruments and the registry. Each broker package is an app
    of its own (listed by settings.BROKERS) that registers itself in its ready()."""

    name = "brokers"
    verbose_name = "Brokers"
