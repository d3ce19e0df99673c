"""Pages of the marketdata app."""

from django.urls import path  # noqa: F401  (pages are added here)

app_name = "marketdata"

urlpatterns: list = []
