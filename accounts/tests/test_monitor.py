"""The monitoring pages: every /api/v1/ call is logged with its status and time and its
secrets masked (in the database and on the page), each trader sees only their own calls
(staff may see all), filters narrow the log and bad filter input is a 400 with a message,
never a 500; the latency and traffic pages chart the log, the health page shows the checks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import monitoring, request_log
from accounts.models import ApiRequest
from accounts.request_log import Record, mask_body, writer
from accounts.services import create_api_key


@pytest.fixture(autouse=True)
def empty_queue():
    writer.discard()
    yield
    writer.discard()


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def _log(user, endpoint="placeorder", status=200, latency_ms=5.0, broker="sandbox", at=None, body=""):
    return ApiRequest.objects.create(at=at or timezone.now(), user=user, method="POST", endpoint=endpoint,
                                     status=status, latency_ms=latency_ms, broker=broker, body=body)


# --- the middleware and the writer -------------------------------------------------------------


def test_an_api_call_is_logged_with_its_status_latency_user_and_broker(api_call, user, api_key):
    status, _ = api_call("ping")
    assert status == 200
    assert ApiRequest.objects.count() == 0  # queued, not written on the request path
    assert writer.flush() == 1
    row = ApiRequest.objects.get()
    assert (row.user, row.endpoint, row.method, row.status, row.broker) == (user, "ping", "POST", 200, "sandbox")
    assert 0 < row.latency_ms < 10_000


def test_the_apikey_in_a_body_never_reaches_the_database_or_the_page(api_call, api_key, signed_in):
    api_call("placeorder", strategy="t", symbol="SBIN", exchange="NSE", action="BUY", quantity="1",
             pricetype="MARKET", product="MIS", password="hunter2-secret", nested={"api_secret": "s3cr3t-value"})
    writer.flush()
    row = ApiRequest.objects.get()
    stored = json.loads(row.body)
    assert stored["apikey"] == "***" and stored["password"] == "***" and stored["nested"]["api_secret"] == "***"
    assert stored["symbol"] == "SBIN"
    assert api_key not in row.body and "hunter2" not in row.body and "s3cr3t" not in row.body
    page = signed_in.get("/monitor/requests/").content.decode()
    assert "placeorder" in page and api_key not in page and "hunter2" not in page


def test_a_refused_call_is_logged_without_a_user(db, post_json):
    response = post_json("/api/v1/funds", {"apikey": "wrong-key-0123456789"})
    assert response.status_code == 403
    writer.flush()
    row = ApiRequest.objects.get()
    assert (row.user_id, row.status, row.endpoint) == (None, 403, "funds")
    assert "wrong-key" not in row.body


def test_pages_and_other_paths_are_not_logged(signed_in):
    signed_in.get("/broker/")
    signed_in.get("/health/live")
    assert writer.flush() == 0


def test_bodies_that_are_not_json_are_masked_or_summarised():
    assert mask_body(b"apikey=abc123&symbol=SBIN") == "apikey=***&symbol=SBIN"
    assert mask_body(b"<xml>apikey abc</xml>") == "(21 characters, not JSON)"
    assert mask_body(b"") == ""
    assert mask_body(json.dumps({"x": "y" * 5000}).encode()).__len__() == request_log.BODY_LIMIT


def test_a_full_queue_drops_records_instead_of_growing(monkeypatch, user):
    monkeypatch.setattr(writer, "MAX_QUEUED", 2)
    record = Record(at=timezone.now(), user_id=user.pk, method="POST", endpoint="ping", status=200,
                    latency_ms=1.0, broker="sandbox", raw_body=b"")
    for _ in range(5):
        writer.submit(record)
    assert writer.flush() == 2 and writer.dropped >= 3


def test_prune_keeps_the_configured_days_and_rows(user, settings):
    settings.REQUEST_LOG_DAYS, settings.REQUEST_LOG_MAX_ROWS = 7, 3
    _log(user, at=timezone.now() - timedelta(days=8))
    kept = [_log(user, endpoint=f"e{n}") for n in range(5)]
    assert request_log.prune() == 3
    assert sorted(ApiRequest.objects.values_list("pk", flat=True)) == [row.pk for row in kept[2:]]


# --- the request log page ------------------------------------------------------------------------


def test_a_trader_sees_only_their_own_calls_and_staff_may_see_all(signed_in, client, user, make_user):
    other = make_user("other")
    _log(user, endpoint="mine")
    _log(other, endpoint="theirs")
    page = signed_in.get("/monitor/requests/").content.decode()
    assert "mine" in page and "theirs" not in page
    assert "theirs" not in signed_in.get("/monitor/requests/?everyone=1").content.decode()  # not staff
    boss = make_user("boss", is_staff=True)
    client.force_login(boss)
    assert "theirs" not in client.get("/monitor/requests/").content.decode()  # own by default
    everyone = client.get("/monitor/requests/?everyone=1").content.decode()
    assert "mine" in everyone and "theirs" in everyone


def test_filters_narrow_the_log(signed_in, user):
    _log(user, endpoint="placeorder", status=200)
    _log(user, endpoint="cancelorder", status=400)
    _log(user, endpoint="funds", status=500, at=timezone.now() - timedelta(days=2))

    def rows(query: str) -> str:
        response = signed_in.get("/monitor/requests/" + query)
        assert response.status_code == 200
        return response.content.decode().split('data-testid="request-log"')[1]

    only_cancel = rows("?endpoint=cancel")
    assert "cancelorder" in only_cancel and ">placeorder" not in only_cancel.replace(" ", "")
    client_errors = rows("?status=4xx")
    assert "cancelorder" in client_errors and "funds" not in client_errors
    day = (timezone.now() - timedelta(days=2)).astimezone(monitoring.IST).date().isoformat()
    that_day = rows(f"?day={day}")
    assert "funds" in that_day and "cancelorder" not in that_day


@pytest.mark.parametrize("query", ["?status=9xx", "?day=yesterday", "?day=2026-13-45", "?endpoint=%3Cscript%3E",
                                   "?page=abc", "?page=-1", "?endpoint=" + "x" * 300])
def test_bad_filter_input_is_a_400_with_a_message_never_a_500(signed_in, user, query):
    _log(user)
    response = signed_in.get("/monitor/requests/" + query)
    assert response.status_code == 400
    assert 'data-testid="filter-errors"' in response.content.decode()


def test_a_page_past_the_end_shows_the_last_page(signed_in, user):
    _log(user, endpoint="only")
    response = signed_in.get("/monitor/requests/?page=99")
    assert response.status_code == 200 and "only" in response.content.decode()


def test_the_monitoring_pages_need_a_signed_in_user(client):
    for path in ("/monitor/requests/", "/monitor/latency/", "/monitor/traffic/", "/monitor/health/",
                 "/monitor/latency/data/", "/monitor/traffic/data/", "/monitor/health/panel/"):
        assert client.get(path)["Location"].startswith("/login/"), path


# --- latency and traffic -------------------------------------------------------------------------


def test_latency_percentiles_per_endpoint_and_broker(signed_in, user, make_user):
    for ms in range(1, 101):
        _log(user, endpoint="placeorder", latency_ms=float(ms), broker="fakelive")
    _log(make_user("other"), endpoint="placeorder", latency_ms=9999.0)
    page = signed_in.get("/monitor/latency/")
    assert page.status_code == 200
    table = page.content.decode().split('data-testid="latency-endpoints"')[1].split("</table>")[0]
    assert "placeorder" in table and ">100<" in table and ">50.0<" in table and ">99.0<" in table
    assert "9999" not in page.content.decode()
    assert "lightweight-charts" in page.content.decode() and "js/monitor.js" in page.content.decode()
    data = signed_in.get("/monitor/latency/data/?hours=1").json()
    buckets = data["endpoints"]["placeorder"]
    assert sum(bucket["count"] for bucket in buckets) == 100
    if len(buckets) == 1:  # the rows were written within one minute (nearly always)
        assert (buckets[0]["p50"], buckets[0]["p99"]) == (50.0, 99.0)
    assert list(data["brokers"]) == ["fakelive"]


def test_percentile_is_nearest_rank():
    values = [float(n) for n in range(1, 11)]
    assert monitoring.percentile(values, 0.5) == 5.0 and monitoring.percentile(values, 0.99) == 10.0
    assert monitoring.percentile([], 0.5) == 0.0


def test_traffic_counts_requests_and_errors_per_bucket(signed_in, user):
    now = timezone.now()
    for status in (200, 200, 400, 502):
        _log(user, status=status, at=now)
    _log(user, at=now - timedelta(hours=2))  # outside the last hour
    data = signed_in.get("/monitor/traffic/data/?hours=1").json()
    assert sum(row["requests"] for row in data["traffic"]) == 4
    assert sum(row["client_errors"] for row in data["traffic"]) == 1
    assert sum(row["server_errors"] for row in data["traffic"]) == 1
    page = signed_in.get("/monitor/traffic/").content.decode()
    assert 'data-testid="traffic-total">4<' in page and 'data-testid="traffic-errors">2<' in page
    assert signed_in.get("/monitor/traffic/?hours=6").status_code == 200


@pytest.mark.parametrize("path", ["/monitor/latency/", "/monitor/traffic/"])
@pytest.mark.parametrize("query", ["?hours=5", "?hours=abc", "?hours=-1"])
def test_a_bad_period_is_a_400_with_a_message(signed_in, path, query):
    response = signed_in.get(path + query)
    assert response.status_code == 400 and "Choose one of the listed periods" in response.content.decode()
    assert signed_in.get(path.rstrip("/") + "/data/" + query).status_code == 400


def test_order_latency_from_metrics(signed_in):
    from core import metrics

    for seconds in (0.004, 0.004, 0.004, 0.2):
        metrics.observe_order("monitortest", seconds, "success")
    (row,) = [row for row in monitoring.order_latency_by_broker() if row.broker == "monitortest"]
    assert row.calls == 4 and 2.5 <= row.p50_ms <= 5 and 100 <= row.p99_ms <= 250
    assert "monitortest" in signed_in.get("/monitor/latency/").content.decode()


# --- health --------------------------------------------------------------------------------------


def test_the_health_page_refreshes_its_panel_which_shows_each_check(signed_in, monkeypatch, user):
    from openalgo import health

    page = signed_in.get("/monitor/health/").content.decode()
    assert 'hx-get="/monitor/health/panel/"' in page and "every 5s" in page
    monkeypatch.setattr(health, "CHECKS", (("database", health._database),
                                           ("worker", lambda: (_ for _ in ()).throw(RuntimeError("no beat")))))
    panel = signed_in.get("/monitor/health/panel/").content.decode()
    assert 'data-check="database" data-state="ok"' in panel and 'data-check="worker" data-state="error"' in panel
    assert "Not ready" in panel and "no beat" not in panel  # details are for staff
    user.is_staff = True
    user.save()
    assert "no beat" in signed_in.get("/monitor/health/panel/").content.decode()


def test_a_new_key_logs_under_the_same_user(post_json, user):
    key = create_api_key(user=user)
    post_json("/api/v1/ping", {"apikey": key})
    writer.flush()
    assert ApiRequest.objects.get().user == user


def test_the_api_stack_records_through_the_async_path(user):
    """Under daphne the /api/ stack is async (openalgo/threads.py): the middleware awaits the
    view and queues the record without blocking the loop."""
    import asyncio

    from django.http import JsonResponse
    from django.test import RequestFactory

    from openalgo.middleware import ApiRequestLogMiddleware

    async def view(request):
        request.user = user  # what DRF's authentication leaves on the request
        return JsonResponse({"status": "error"}, status=429)

    middleware = ApiRequestLogMiddleware(view)
    request = RequestFactory().post("/api/v1/placeorder/", data='{"apikey": "k-123", "symbol": "SBIN"}',
                                    content_type="application/json")
    response = asyncio.run(middleware(request))
    assert response.status_code == 429
    (record,) = writer.take()
    row = record.row()  # on the writer thread
    assert (row.user_id, row.endpoint, row.status, row.broker) == (user.pk, "placeorder", 429, "sandbox")
    assert json.loads(row.body) == {"apikey": "***", "symbol": "SBIN"}


def test_the_writer_thread_writes_queued_records_within_a_few_seconds(transactional_db, settings):
    import time

    settings.REQUEST_LOG_THREAD = True
    own = request_log.RequestLogWriter()
    own.submit(Record(at=timezone.now(), user_id=None, method="POST", endpoint="ping", status=200,
                      latency_ms=1.0, broker="", raw_body=b'{"apikey": "abc"}'))
    deadline = time.monotonic() + 5
    while not ApiRequest.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    row = ApiRequest.objects.get()
    assert row.endpoint == "ping" and row.body == '{"apikey":"***"}'


def test_the_broker_recorded_is_the_live_session_that_served_the_call(api_call, user):
    from accounts.services import store_broker_session

    store_broker_session(user=user, broker="fakelive", access_token="tok")
    status, body = api_call("ping")
    assert status == 200 and body["data"]["broker"] == "fakelive"
    writer.flush()
    assert ApiRequest.objects.get().broker == "fakelive"
