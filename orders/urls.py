"""Dashboard pages of the orders app."""

from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("risk/", views.risk_page, name="risk"),
    path("risk/kill-switch/", views.kill_switch, name="kill_switch"),
    path("reconciliation/", views.reconciliation_page, name="reconciliation"),
]
