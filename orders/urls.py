"""Dashboard pages of the orders app."""

from django.urls import path

from orders import book_views, postback_views, views

app_name = "orders"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("orders/", book_views.orderbook, name="orderbook"),
    path("orders/cancel/", book_views.cancel_order, name="cancel_order"),
    path("orders/cancel-all/", book_views.cancel_all, name="cancel_all"),
    path("trades/", book_views.tradebook, name="tradebook"),
    path("positions/", book_views.positions, name="positions"),
    path("positions/close/", book_views.close_position, name="close_position"),
    path("positions/close-all/", book_views.close_all, name="close_all"),
    path("holdings/", book_views.holdings, name="holdings"),
    path("risk/", views.risk_page, name="risk"),
    path("risk/kill-switch/", views.kill_switch, name="kill_switch"),
    path("reconciliation/", views.reconciliation_page, name="reconciliation"),
    # Where brokers that post order updates back are told to call (no trailing slash, as they register it).
    path("broker/<slug:broker>/postback", postback_views.broker_postback, name="broker_postback"),
]
