from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The paper-trading exchange: the default broker of every user, and analyze mode's."""

    name = "brokers.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox (paper trading)"

    def ready(self) -> None:
        from brokers import registry
        from brokers.sandbox.adapter import SandboxAdapter
        from brokers.sandbox.stream import FEED

        registry.register(registry.SANDBOX, SandboxAdapter, feed=FEED)
