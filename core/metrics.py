"""Prometheus metrics: our own (orders, the tick feed, Celery's queue) and django-prometheus's
database metrics, served at /metrics to a scraper holding METRICS_TOKEN.

Processes. web, feed, worker (and its pool children) each count in their own memory-mapped
files under settings.METRICS_DIR (prometheus_client's multiprocess mode, switched on by the
settings before anything imports prometheus_client); a scrape of any web process sums every
file of the folder, so it reports the whole host.

Housekeeping. A file stays after its process exits, on purpose: a counter that went down when
one process restarts would read as a reset and spike rate(). Gauges that only make sense while
their process lives (the ``live*`` modes) are removed when a Celery pool child exits
(mark_process_dead); ours are computed at scrape time and have no files. The folder is emptied
when the whole platform starts, before its processes do (``clear_directory()``; `make run`), so
it holds one set of files per process of the current run (plus those of restarted processes and
of management commands run since). A test run counts in a temporary folder of its own
(settings), so it never mixes its samples with a live platform's.

Cost. Every counter and histogram write takes a process-wide lock and writes a mmap: one or two
microseconds. Order calls are milliseconds, so they count per call. The feed counts per batch:
the publisher adds ticks up in a plain int and flushes them when it polls its subscriptions
(or every ``TickPublisher.FLUSH_EVERY`` ticks); the hub counts overwritten frames per tick, not
per frame.

What django-prometheus contributes, and what it does not:
- database statements, errors, query durations and new connections (its ``django_db_*``
  metrics), counted by a statement wrapper that ``MetricsConfig`` installs on every
  connection: no change of database ENGINE (which would also be a settings change elsewhere).
  It costs about 5-8 microseconds a statement on the development machine (two shared-memory
  writes and a histogram observation); METRICS_DB=false turns it off;
- applied/unapplied migrations (its ``django_migrations_*`` names), computed at scrape time
  by the web process rather than in every process's AppConfig.ready(), which would query the
  database while apps load and export one series per process id;
- not its request middleware. /api/ is the latency-critical path and is served by a lean
  handler with its own middleware list (openalgo/threads.py: PathDispatch, API_MIDDLEWARE).
  django-prometheus's Before/After middleware are MiddlewareMixin classes, so under ASGI each
  runs its hooks through sync_to_async: extra thread hops on every request, the very cost the
  lean stack was built to remove (it halved a small call's time), for per-view counts that
  the order histogram already gives where latency matters. The dashboard pages are not worth
  that either, so the middleware is nowhere.
- not its cache backends: they need CACHES changed, and its locmem backend answers ``default``
  for a cached falsy value (0, ""), which would change how the embedded platform behaves.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import shutil
import threading
import time
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.http import Http404, HttpResponse
from django_prometheus.db import metrics as db_metrics
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

log = logging.getLogger(__name__)

# --- our metrics --------------------------------------------------------------------------------

ORDER_LATENCY = Histogram(
    "openalgo_order_latency_seconds",
    "Time an order call spent at its broker (place, modify, cancel...), by broker and outcome.",
    ["broker", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
ORDER_REJECTS = Counter(
    "openalgo_order_rejects_total",
    "Orders refused, by reason (risk rule, broker rejection...).",
    ["reason"],
)
FEED_TICKS = Counter(
    "openalgo_feed_ticks_total",
    "Ticks published on the feed bus (rate() gives ticks per second).",
)
FEED_DROPPED_FRAMES = Counter(
    "openalgo_feed_dropped_frames_total",
    "WebSocket frames overwritten by a newer tick of the same symbol before a slow client took them.",
)
# Per connection: one observation when a feed connection closes, of the frames it lost to
# conflation over its life (a label per connection would be a new series per socket). The
# live count of an open connection is in its `pong` (websocket.md §3.7, field `dropped`).
FEED_CONNECTION_DROPPED = Histogram(
    "openalgo_feed_connection_dropped_frames",
    "Frames one feed connection lost to conflation over its life, observed when it closes "
    "(_count: connections closed; the buckets: how many were slow, and how slow).",
    buckets=(0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000),
)

# Label values come from code, but a reason built from a broker's message (or a bug) must not
# make a new series per order: values are short snake_case words, and each label takes at
# most MAX_LABEL_VALUES of them per process; anything else is counted under a catch-all.
MAX_LABEL_VALUES = 64
_LABEL = re.compile(r"[a-z][a-z0-9_]{0,47}")
_label_values: dict[str, set[str]] = {}
_label_lock = threading.Lock()


def bounded(label: str, value: object, fallback: str = "unknown") -> str:
    """``value`` as a safe label value of ``label``: lower-cased snake case, or ``fallback``
    when it is not one or the label already has MAX_LABEL_VALUES values in this process."""
    text = str(value or "").strip().lower().replace("-", "_").replace(" ", "_")
    if not _LABEL.fullmatch(text):
        return fallback
    seen = _label_values.setdefault(label, set())
    if text in seen:
        return text
    with _label_lock:
        if len(seen) >= MAX_LABEL_VALUES:
            return "other"
        seen.add(text)
    return text


def observe_order(broker: str, seconds: float, outcome: str) -> None:
    """One order call at ``broker`` that took ``seconds`` and ended in ``outcome``
    (e.g. "success", "rejected", "error", "timeout")."""
    ORDER_LATENCY.labels(bounded("broker", broker), bounded("outcome", outcome)).observe(max(0.0, seconds))


def count_reject(reason: str) -> None:
    """One refused order; ``reason`` is a short code such as "risk_max_quantity",
    "broker_rejected" or "unknown" (never a free-text message)."""
    ORDER_REJECTS.labels(bounded("reason", reason)).inc()


def count_ticks(count: int) -> None:
    if count:
        FEED_TICKS.inc(count)


def count_dropped_frames(count: int) -> None:
    if count:
        FEED_DROPPED_FRAMES.inc(count)


def observe_connection_dropped(count: int) -> None:
    """A feed connection closed having lost ``count`` frames to conflation."""
    FEED_CONNECTION_DROPPED.observe(max(0, count))


# --- django-prometheus's database metrics ----------------------------------------------------------


_db_children: dict[tuple[str, str], tuple] = {}


def _db_metrics(alias: str, vendor: str) -> tuple:
    children = _db_children.get((alias, vendor))
    if children is None:
        children = _db_children[(alias, vendor)] = (
            db_metrics.execute_total.labels(alias, vendor), db_metrics.execute_many_total.labels(alias, vendor),
            db_metrics.query_duration_seconds.labels(alias, vendor))
    return children


def _count_statements(execute, sql, params, many, context):
    connection = context["connection"]
    executed, executed_many, duration = _db_metrics(connection.alias, connection.vendor)
    size = len(params) if many and hasattr(params, "__len__") else 1
    executed.inc(size)
    if many:
        executed_many.inc(size)
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception as exc:
        db_metrics.errors_total.labels(connection.alias, connection.vendor, type(exc).__name__).inc()
        raise
    finally:
        duration.observe(time.perf_counter() - started)


def _instrument_connection(sender, connection, **kwargs) -> None:
    db_metrics.connections_total.labels(connection.alias, connection.vendor).inc()
    if settings.METRICS_DB and _count_statements not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_statements)


class MetricsConfig(AppConfig):
    """Installed by the settings' Metrics section so that it runs in every process."""

    name = "core.metrics"
    label = "openalgo_metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        connection_created.connect(_instrument_connection, dispatch_uid="openalgo-metrics-db")
        try:
            from celery.signals import worker_process_shutdown
        except ImportError:  # pragma: no cover - celery is a dependency
            return
        worker_process_shutdown.connect(_pool_child_exited, dispatch_uid="openalgo-metrics-child", weak=False)


def _pool_child_exited(pid=None, **kwargs) -> None:
    mark_process_dead(pid or os.getpid())


def clear_directory(path: Path | str | None = None) -> None:
    """Empty the multiprocess folder. Only while no process of the platform runs (its open
    files would go on counting into deleted files that no scrape sees)."""
    folder = Path(path or settings.METRICS_DIR)
    if folder.is_dir():
        for entry in folder.glob("*.db"):
            entry.unlink(missing_ok=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)


# --- computed at scrape time -----------------------------------------------------------------------

_KOMBU_PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport: a queue's priority lists are "<queue>\x06\x16<n>"
_redis_clients: dict[str, object] = {}


def celery_queues() -> list[str]:
    names = {getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")}
    for queue in getattr(settings, "CELERY_TASK_QUEUES", None) or ():
        names.add(getattr(queue, "name", queue))
    for route in (getattr(settings, "CELERY_TASK_ROUTES", None) or {}).values():
        if isinstance(route, dict) and route.get("queue"):
            names.add(getattr(route["queue"], "name", route["queue"]))
    return sorted(str(name) for name in names)


def _redis_depths(url: str, queues: list[str]) -> dict[str, int]:
    import redis

    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    pipe = client.pipeline(transaction=False)
    for queue in queues:
        pipe.llen(queue)
        for priority in (3, 6, 9):  # kombu's default priority steps beyond 0
            pipe.llen(f"{queue}{_KOMBU_PRIORITY_SEP}{priority}")
    lengths = pipe.execute()
    return {queue: sum(lengths[i * 4:(i + 1) * 4]) for i, queue in enumerate(queues)}


def _filesystem_depths(folder: str, queues: list[str]) -> dict[str, int]:
    """kombu's filesystem transport: one "<ms>_<uuid>.<queue>.msg" file per waiting message."""
    depths = dict.fromkeys(queues, 0)
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name.endswith(".msg") and "." in name[:-4]:
                queue = name[:-4].split(".", 1)[1]
                if queue in depths:
                    depths[queue] += 1
    return depths


def celery_queue_depths() -> dict[str, int]:
    """Messages waiting in each Celery queue; raises when the broker cannot be read."""
    url = settings.CELERY_BROKER_URL or ""
    queues = celery_queues()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return _redis_depths(url, queues)
    if url.startswith("filesystem://"):
        return _filesystem_depths(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"], queues)
    raise RuntimeError(f"queue depth is not implemented for {url.split(':', 1)[0]}")


class ScrapeTimeCollector:
    """Gauges read when scraped: Celery's queues and the database's migrations."""

    def collect(self):
        depth = GaugeMetricFamily("openalgo_celery_queue_depth", "Messages waiting in a Celery queue.",
                                  labels=["queue"])
        up = GaugeMetricFamily("openalgo_celery_broker_up", "1 when the last scrape could read the Celery broker.")
        try:
            depths = celery_queue_depths()
        except Exception:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for queue, count in depths.items():
                depth.add_metric([queue], count)
        yield depth
        yield up
        yield from _migration_gauges()


def _migration_gauges():
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    applied = GaugeMetricFamily("django_migrations_applied_total", "Count of applied migrations by database "
                                "connection", labels=["connection"])
    unapplied = GaugeMetricFamily("django_migrations_unapplied_total", "Count of unapplied migrations by "
                                  "database connection", labels=["connection"])
    for alias in connections:
        try:
            executor = MigrationExecutor(connections[alias])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception:  # a database that cannot answer shows as missing series, not a failed scrape
            log.warning("Migration metrics for database %r unavailable", alias, exc_info=True)
            continue
        applied.add_metric([alias], len(executor.loader.applied_migrations))
        unapplied.add_metric([alias], len(plan))
    yield applied
    yield unapplied


# --- the endpoint ------------------------------------------------------------------------------------


def _authorized(request) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    # Constant time for any token of the right length (compare_digest); the token is compared
    # whatever the scheme said, so the answer's timing tells nothing about either.
    matches = hmac.compare_digest(token.strip().encode(), settings.METRICS_TOKEN.encode())
    return scheme.lower() == "bearer" and matches


def scrape() -> bytes:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(settings.METRICS_DIR))
    registry.register(ScrapeTimeCollector())
    return generate_latest(registry)


def metrics_view(request) -> HttpResponse:
    """GET /metrics: 404 while METRICS_TOKEN is unset, 401 without the right bearer token."""
    if not settings.METRICS_TOKEN:
        raise Http404
    if not _authorized(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        response = HttpResponse(status=405)
        response["Allow"] = "GET, HEAD"
        return response
    response = HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
