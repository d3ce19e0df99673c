"""Dashboard pages of the orders app."""

from django.urls import path

from orders import postback_views, views

app_name = "orders"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("risk/", views.risk_page, name="risk"),
    path("risk/kill-switch/", views.kill_switch, name="kill_switch"),
    path("reconciliation/", views.reconciliation_page, name="reconciliation"),
    # Where brokers that post order updates back are told to call (no trailing slash, as they register it).
    path("broker/<slug:broker>/postback", postback_views.broker_postback, name="broker_postback"),
]
