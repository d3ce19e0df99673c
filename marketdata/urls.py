"""Pages of the marketdata app: quote and chart, option chain."""

from django.urls import path

from marketdata import views

app_name = "marketdata"

urlpatterns = [
    path("quote/", views.quote_page, name="quote"),
    path("quote/search/", views.quote_search, name="quote_search"),
    path("quote/history/", views.quote_history, name="quote_history"),
    path("quote/preferences/", views.chart_preferences_page, name="chart_preferences"),
    path("optionchain/", views.optionchain_page, name="optionchain"),
    path("optionchain/table/", views.optionchain_rows, name="optionchain_table"),
]
