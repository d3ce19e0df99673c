from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from brokers.signals import order_changed
        from orders import updates

        order_changed.connect(updates.on_broker_order_changed, weak=False, dispatch_uid="orders.broker_order_changed")
