"""The benchmarks' bare view (BENCH_BARE_VIEW): off by default, and when on it answers
through the API's own handler and middleware (bench/hotpath.py's reference)."""

from __future__ import annotations

import pytest

from core.tests.asgi import asgi_request


def test_no_bare_view_by_default(client):
    response = client.post("/api/v1/bench/bare", {}, content_type="application/json")
    assert response.status_code == 404


def test_the_setting_adds_the_route_to_the_api(settings):
    """api_urls evaluated afresh (not reloaded: the loaded URLconf stays as it is)."""
    import runpy

    from openalgo import api_urls

    settings.BENCH_BARE_VIEW = True
    routes = [p.pattern.regex.pattern for p in runpy.run_path(api_urls.__file__)["urlpatterns"]]
    assert routes[-1] == "^bench/bare/?$" and len(routes) == len(api_urls.urlpatterns) + 1


@pytest.mark.django_db
@pytest.mark.urls("core.tests.bare_urls")
def test_bare_view_answers_through_the_api_stack():
    from openalgo.threads import api_application

    status, headers, body = asgi_request(api_application(), "POST", "/api/v1/bench/bare", b"{}", host="127.0.0.1")
    assert status == 200
    assert headers["content-security-policy"].startswith("default-src 'none'")  # the API middleware ran
    assert body == b'{"status": "success", "data": {"message": "bare"}}'
