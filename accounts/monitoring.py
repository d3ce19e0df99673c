"""Reads behind the monitoring pages: the API request log filtered for one user (staff may
read everyone's), latency percentiles and traffic per time bucket from it, and the order
latency at each broker from the Prometheus histogram that /metrics serves."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from accounts.models import ApiRequest, User
from core.values import IST

STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
# Window (hours) -> bucket width (seconds) of the latency and traffic series.
WINDOWS = {1: 60, 6: 300, 24: 900, 168: 3600}
MAX_ROWS = 50_000  # newest rows a chart reads; older ones in a busy window are left out
IST_SHIFT = int(timedelta(hours=5, minutes=30).total_seconds())  # charts draw UTC; show IST clock time


def visible_requests(user: User, *, everyone: bool = False) -> QuerySet[ApiRequest]:
    """The log rows ``user`` may read: their own, or all when staff asks for all."""
    rows = ApiRequest.objects.order_by("-at", "-pk")
    if everyone and user.is_staff:
        return rows
    return rows.filter(user=user)


def filtered(rows: QuerySet[ApiRequest], *, endpoint: str = "", status_class: str = "",
             day: date | None = None) -> QuerySet[ApiRequest]:
    if endpoint:
        rows = rows.filter(endpoint__icontains=endpoint)
    if status_class in STATUS_CLASSES:
        low = int(status_class[0]) * 100
        rows = rows.filter(status__gte=low, status__lt=low + 100)
    if day is not None:
        start = datetime.combine(day, datetime.min.time(), tzinfo=IST)
        rows = rows.filter(at__gte=start, at__lt=start + timedelta(days=1))
    return rows


def endpoints_seen(rows: QuerySet[ApiRequest]) -> list[str]:
    return sorted(set(rows.order_by().values_list("endpoint", flat=True).distinct()[:200]))


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (``share`` in 0..1)."""
    if not values:
        return 0.0
    rank = max(1, math.ceil(share * len(values)))
    return values[min(rank, len(values)) - 1]


@dataclass(frozen=True, slots=True)
class Sample:
    at: datetime
    endpoint: str
    broker: str
    latency_ms: float
    status: int


def samples(rows: QuerySet[ApiRequest], *, hours: int, now: datetime | None = None) -> list[Sample]:
    since = (now or timezone.now()) - timedelta(hours=hours)
    values = rows.filter(at__gte=since).values_list("at", "endpoint", "broker", "latency_ms", "status")[:MAX_ROWS]
    return [Sample(*row) for row in values]


def _bucket(at: datetime, width: int) -> int:
    stamp = int(at.timestamp())
    return stamp - stamp % width + IST_SHIFT


def latency_series(points: Iterable[Sample], *, width: int, key: str, top: int = 6) -> dict[str, list[dict]]:
    """p50 and p99 (ms) per bucket for the ``top`` busiest values of ``key`` (endpoint or broker)."""
    grouped: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for point in points:
        name = getattr(point, key) or "(none)"
        grouped[name][_bucket(point.at, width)].append(point.latency_ms)
    busiest = sorted(grouped, key=lambda name: -sum(len(v) for v in grouped[name].values()))[:top]
    series = {}
    for name in busiest:
        rows = []
        for stamp in sorted(grouped[name]):
            values = sorted(grouped[name][stamp])
            rows.append({"time": stamp, "p50": round(percentile(values, 0.5), 2),
                         "p99": round(percentile(values, 0.99), 2), "count": len(values)})
        series[name] = rows
    return series


@dataclass(frozen=True, slots=True)
class LatencySummary:
    name: str
    count: int
    p50: float
    p99: float
    errors: int


def latency_summary(points: Iterable[Sample], *, key: str) -> list[LatencySummary]:
    grouped: dict[str, list[Sample]] = defaultdict(list)
    for point in points:
        grouped[getattr(point, key) or "(none)"].append(point)
    summary = []
    for name, group in grouped.items():
        values = sorted(point.latency_ms for point in group)
        summary.append(LatencySummary(name=name, count=len(values), p50=round(percentile(values, 0.5), 2),
                                      p99=round(percentile(values, 0.99), 2),
                                      errors=sum(1 for point in group if point.status >= 400)))
    return sorted(summary, key=lambda row: -row.count)


def traffic_series(points: Iterable[Sample], *, width: int) -> list[dict]:
    """Per bucket: requests, client errors (4xx) and server errors (5xx), as a rate per minute."""
    buckets: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for point in points:
        counts = buckets[_bucket(point.at, width)]
        counts[0] += 1
        if 400 <= point.status < 500:
            counts[1] += 1
        elif point.status >= 500:
            counts[2] += 1
    per_minute = width / 60
    return [{"time": stamp, "requests": counts[0], "client_errors": counts[1], "server_errors": counts[2],
             "per_minute": round(counts[0] / per_minute, 2)} for stamp, counts in sorted(buckets.items())]


# --- from /metrics -------------------------------------------------------------------------------

ORDER_LATENCY = "openalgo_order_latency_seconds"


@dataclass(frozen=True, slots=True)
class BrokerLatency:
    broker: str
    calls: int
    p50_ms: float
    p99_ms: float


def _quantile(buckets: list[tuple[float, float]], share: float) -> float:
    """A quantile from cumulative histogram buckets [(upper bound, count)], interpolated
    linearly inside its bucket (as Prometheus' histogram_quantile does)."""
    total = buckets[-1][1] if buckets else 0
    if not total:
        return 0.0
    rank = share * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0)
        lower, below = bound, count
    return lower


def order_latency_by_broker() -> list[BrokerLatency]:
    """Order calls at each broker since the platform started (every process of this host),
    with p50 and p99 estimated from the histogram's buckets."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(settings.METRICS_DIR))
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for family in registry.collect():
        if family.name != ORDER_LATENCY:
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[sample.labels.get("broker", "")][bound] += sample.value
    result = []
    for broker, by_bound in sorted(buckets.items()):
        ordered = sorted(by_bound.items())
        calls = int(ordered[-1][1]) if ordered else 0
        if calls:
            result.append(BrokerLatency(broker=broker, calls=calls, p50_ms=round(_quantile(ordered, 0.5) * 1000, 2),
                                        p99_ms=round(_quantile(ordered, 0.99) * 1000, 2)))
    return result
