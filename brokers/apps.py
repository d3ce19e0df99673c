from django.apps import AppConfig


class BrokersConfig(AppConfig):
    name = "brokers"
    verbose_name = "Brokers"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts.models import BrokerCredential
        from brokers import registry

        def credential_changed(sender, instance, **kwargs) -> None:
            registry.forget_live_broker(instance.user_id)

        post_save.connect(credential_changed, sender=BrokerCredential, weak=False,
                          dispatch_uid="brokers.credential_saved")
        post_delete.connect(credential_changed, sender=BrokerCredential, weak=False,
                            dispatch_uid="brokers.credential_deleted")
