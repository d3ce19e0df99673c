"""Pages of the strategies app."""

from django.urls import path  # noqa: F401  (pages are added here)

app_name = "strategies"

urlpatterns: list = []
