"""Webhook strategies: the webhooks (at the site root, with or without a trailing slash,
no redirect) and the pages; and the pages of hosted Python strategies (/python/)."""

from django.urls import path, re_path

from strategies import hosted_views, views
from strategies.telegram import views as telegram_views

app_name = "strategies"

urlpatterns = [
    re_path(r"^strategy/webhook/(?P<webhook_id>[^/]+)/?$", views.strategy_webhook, name="webhook"),
    re_path(r"^chartink/webhook/(?P<webhook_id>[^/]+)/?$", views.chartink_webhook, name="chartink"),
    path("strategies/", views.strategy_list, name="list"),
    path("strategies/new/", views.strategy_create, name="create"),
    path("strategies/<int:pk>/", views.strategy_detail, name="detail"),
    path("strategies/<int:pk>/edit/", views.strategy_edit, name="edit"),
    path("strategies/<int:pk>/toggle/", views.strategy_toggle, name="toggle"),
    path("strategies/<int:pk>/delete/", views.strategy_delete, name="delete"),
    path("strategies/<int:pk>/test/", views.strategy_test, name="test"),
    # Hosted Python strategies
    path("python/", hosted_views.python_list, name="python"),
    path("python/<int:strategy_id>/", hosted_views.python_detail, name="python_detail"),
    path("python/<int:strategy_id>/log/", hosted_views.python_log, name="python_log"),
    path("python/<int:strategy_id>/edit/", hosted_views.python_edit, name="python_edit"),
    path("python/<int:strategy_id>/upload/", hosted_views.python_upload, name="python_upload"),
    path("python/<int:strategy_id>/schedule/", hosted_views.python_schedule, name="python_schedule"),
    path("python/<int:strategy_id>/start/", hosted_views.python_start, name="python_start"),
    path("python/<int:strategy_id>/stop/", hosted_views.python_stop, name="python_stop"),
    path("python/<int:strategy_id>/delete/", hosted_views.python_delete, name="python_delete"),
    # Telegram
    path("telegram/", telegram_views.telegram_page, name="telegram"),
    path("telegram/token/", telegram_views.save_token, name="telegram_token"),
    path("telegram/bot/", telegram_views.bot_action, name="telegram_bot"),
    path("telegram/link-code/", telegram_views.link_code, name="telegram_link_code"),
    path("telegram/unlink/", telegram_views.unlink, name="telegram_unlink"),
    path("telegram/preferences/", telegram_views.preferences, name="telegram_preferences"),
]
