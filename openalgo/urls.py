"""Top-level routes: the dashboard pages, the admin, /api/v1 and its docs."""

from __future__ import annotations

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.otp import needs_verification
from accounts.views import admin_login
from core import metrics
from openalgo import health

# The admin signs in through the throttled, 2FA-aware login, and a session whose second
# factor is still due gets no admin access.
admin.site.login = admin_login
_admin_has_permission = admin.site.has_permission
admin.site.has_permission = lambda request: (
    _admin_has_permission(request) and not needs_verification(request)
)

urlpatterns = [
    path("health/live", health.live, name="health-live"),
    path("health/ready", health.ready, name="health-ready"),
    path("monitor/health/panel/", health.ready_panel, name="health-panel"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("openalgo.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("", include("orders.urls")),
    path("", include("marketdata.urls")),
    path("", include("strategies.urls")),
    path("", include("accounts.urls")),
]


def handler404(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"status": "error", "message": "Not found"}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"status": "error", "message": "An unexpected error occurred"}, status=500)
    from django.views.defaults import server_error

    return server_error(request)
