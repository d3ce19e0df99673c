"""Pages of the strategies app."""

from django.urls import path

from strategies import hosted_views

app_name = "strategies"

urlpatterns: list = [
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
]
