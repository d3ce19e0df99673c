from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from brokers.sandbox import exchange
        from orders import updates

        if updates.on_sandbox_order not in exchange.order_listeners:
            exchange.order_listeners.append(updates.on_sandbox_order)
