"""A URLconf for the bare view's test: the route api_urls adds when BENCH_BARE_VIEW is on
(reloading the project's URLconf instead broke the admin for the tests that followed)."""

from django.urls import re_path

from core.api.views import bare_view

urlpatterns = [re_path(r"^api/v1/bench/bare/?$", bare_view, name="bench-bare")]
