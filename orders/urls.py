"""Dashboard pages of the orders app."""

from django.urls import path

from orders import paper_views, postback_views, views

app_name = "orders"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("risk/", views.risk_page, name="risk"),
    path("risk/kill-switch/", views.kill_switch, name="kill_switch"),
    path("reconciliation/", views.reconciliation_page, name="reconciliation"),
    path("sandbox/", paper_views.sandbox_page, name="sandbox"),
    path("sandbox/analyze-mode/", paper_views.analyze_toggle, name="sandbox_toggle"),
    path("sandbox/settings/", paper_views.sandbox_settings, name="sandbox_settings"),
    path("sandbox/reset/", paper_views.sandbox_reset, name="sandbox_reset"),
    path("sandbox/pnl/", paper_views.mypnl_page, name="mypnl"),
    path("analyzer/", paper_views.analyzer_page, name="analyzer"),
    # Where brokers that post order updates back are told to call (no trailing slash, as they register it).
    path("broker/<slug:broker>/postback", postback_views.broker_postback, name="broker_postback"),
]
