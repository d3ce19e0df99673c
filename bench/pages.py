"""Server time to render each page of the sidebar for a trader with 1,000 orders in today's
book (sandbox), with Django's test client in this process (goal: p50 and p99 <= 100 ms per
page). Beside each figure, the reference: a bare Django view rendering a trivial template
through the same middleware, measured in the same run. Every sidebar URL name that exists
now is measured; names not installed yet, and pages that need arguments, are skipped.
Not a test.

Usage: python bench/pages.py [--requests N] [--orders N] [--postgres URL]"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import types
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ping import ROOT, fresh_database, percentile

sys.path.insert(0, str(ROOT))

GOAL_MS = 100.0
TICK = Decimal("0.05")
# The sidebar's entries (templates/base.html), in its order.
SIDEBAR = (
    "orders:dashboard", "orders:orderbook", "orders:tradebook", "orders:positions", "orders:holdings",
    "orders:place_order", "orders:basket", "orders:options_order", "orders:action_center",
    "marketdata:quote", "marketdata:optionchain", "orders:sandbox", "orders:analyzer", "orders:mypnl",
    "strategies:list", "strategies:python", "strategies:telegram", "accounts:brokers", "accounts:apikey",
    "orders:risk", "orders:reconciliation", "accounts:monitor_requests", "accounts:monitor_latency",
    "accounts:monitor_traffic", "accounts:monitor_health", "accounts:security", "accounts:sessions",
    "accounts:activity", "accounts:password_change",
)
REFERENCE_TEMPLATE = "<!doctype html><title>{{ title }}</title><h1>Hello, {{ name }}</h1><p>{{ text }}</p>"


def setup(tmp: str, postgres: str | None) -> None:
    os.environ.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", LOG_LEVEL="WARNING",
                      DJANGO_SETTINGS_MODULE="openalgo.settings")
    os.environ.pop("REDIS_URL", None)
    if postgres:
        os.environ["DATABASE_URL"] = fresh_database(postgres, "pages")
    else:
        os.environ.pop("DATABASE_URL", None)  # SQLite in the scratch directory
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("loadsandbox", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115


def install_reference() -> None:
    """The site's URLs plus /bench-reference/: the trivial page every figure is compared with."""
    from django.conf import settings
    from django.http import HttpResponse
    from django.template import engines
    from django.urls import clear_url_caches, include, path

    template = engines["django"].from_string(REFERENCE_TEMPLATE)

    def reference(request):
        return HttpResponse(template.render({"title": "Reference", "name": "bench", "text": "A trivial page."},
                                            request))

    urlconf = types.ModuleType("bench_pages_urls")
    urlconf.urlpatterns = [path("bench-reference/", reference), path("", include(settings.ROOT_URLCONF))]  # type: ignore[attr-defined]
    settings.ROOT_URLCONF = urlconf
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    clear_url_caches()


def below(ltp: Decimal) -> Decimal:
    """A limit price 10% under the market, on the 0.05 tick: it rests all day."""
    return (ltp * Decimal("0.9") / TICK).to_integral_value() * TICK


def make_trader(orders: int):
    """User `bench` with ``orders`` orders today: most resting below the market, some filled
    (trades and positions), all through the order service as the API places them."""
    from django.contrib.auth import get_user_model

    from brokers.enums import Exchange
    from orders.services import OrderPath, adapter_for, submit_order_request

    user = get_user_model().objects.create_user("bench", password="bench-password-not-secret-1")
    adapter = adapter_for(user)
    symbols = ("SBIN", "RELIANCE", "INFY", "TCS", "HDFCBANK")
    last = {s: adapter.quote(s, Exchange.NSE).ltp for s in symbols}
    failed, why = 0, set()
    for n in range(orders):
        symbol = symbols[n % len(symbols)]
        market = n % 20 == 0  # one in twenty fills at market
        data = {"strategy": "bench", "symbol": symbol, "exchange": "NSE", "action": "BUY" if n % 40 else "SELL",
                "quantity": Decimal(1), "pricetype": "MARKET" if market else "LIMIT", "product": "MIS",
                "price": Decimal(0) if market else below(last[symbol]),
                "trigger_price": Decimal(0), "disclosed_quantity": 0}
        outcome = submit_order_request(user=user, path=OrderPath.PLACE, data=data)
        if not outcome.succeeded:
            failed += 1
            why.add(str(outcome.body.get("message")))
    if failed:
        print(f"warning: {failed} of {orders} orders were refused: {'; '.join(sorted(why))}", file=sys.stderr)
    return user


def measure(client, url: str, requests: int) -> tuple[list[float], int]:
    for _ in range(3):  # warm caches and imports
        status = client.get(url).status_code
        if status != 200:
            return [], status
    timings = []
    for _ in range(requests):
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            return [], response.status_code
    return timings, 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--postgres", help="e.g. postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-bench-pages-") as tmp:
        setup(tmp, args.postgres)
        install_reference()
        from django.db import connection
        from django.test import Client
        from django.urls import NoReverseMatch, reverse

        started = time.perf_counter()
        user = make_trader(args.orders)
        print(f"{args.orders} orders placed in {time.perf_counter() - started:.1f} s "
              f"({connection.vendor}); {args.requests} requests per page")
        client = Client()
        client.force_login(user)
        reference, _ = measure(client, "/bench-reference/", args.requests * 2)
        ref50, ref99 = statistics.median(reference), percentile(reference, 0.99)
        print(f"reference: a bare view with a trivial template  p50 {ref50:.2f} ms  p99 {ref99:.2f} ms")
        print(f"{'page':<28} {'url':<26} {'p50 ms':>8} {'p99 ms':>8} {'x ref':>7} {'goal':>6}")
        missed = 0
        for name in SIDEBAR:
            try:
                url = reverse(name)
            except NoReverseMatch:
                continue
            timings, status = measure(client, url, args.requests)
            if not timings:
                print(f"{name:<28} {url:<26} answered {status}, not measured")
                missed += 1
                continue
            p50, p99 = statistics.median(timings), percentile(timings, 0.99)
            ok = p50 <= GOAL_MS and p99 <= GOAL_MS
            missed += not ok
            print(f"{name:<28} {url:<26} {p50:>8.2f} {p99:>8.2f} {p50 / ref50:>7.1f} {'ok' if ok else 'MISS':>6}")
        print(f"goal: p50 and p99 <= {GOAL_MS:.0f} ms per page; reference p50 {ref50:.2f} ms beside each")
        return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
